// AVX2 + FMA + F16C row-dot kernels, compiled with target attributes so the rest of the build stays
// portable; avx2_table() hands them out only when the running CPU supports all three.
#include <immintrin.h>

#include "engine/cpu/dot_kernels.h"
#include "engine/util/half.h"

namespace moescope::cpu::detail {

#define MS_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace {

MS_AVX2 inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 sh = _mm_movehdup_ps(lo);
  __m128 s = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, s);
  s = _mm_add_ss(s, sh);
  return _mm_cvtss_f32(s);
}

struct LoadF32 {
  using Elem = float;
  MS_AVX2 static __m256 load8(const void* w, int64_t i) { return _mm256_loadu_ps(static_cast<const float*>(w) + i); }
  static float load1(const void* w, int64_t i) { return static_cast<const float*>(w)[i]; }
};
struct LoadBF16 {
  using Elem = uint16_t;
  MS_AVX2 static __m256 load8(const void* w, int64_t i) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float load1(const void* w, int64_t i) { return bf16_to_f32(static_cast<const uint16_t*>(w)[i]); }
};
struct LoadF16 {
  using Elem = uint16_t;
  MS_AVX2 static __m256 load8(const void* w, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i)));
  }
  static float load1(const void* w, int64_t i) { return fp16_to_f32(static_cast<const uint16_t*>(w)[i]); }
};

// Each weight chunk is widened once and used for up to four token rows.
template <class L>
MS_AVX2 void dot_rows(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy) {
  const int64_t K8 = K & ~int64_t(7);
  int t = 0;
  for (; t + 4 <= T; t += 4) {
    const float* x0 = x + int64_t(t) * ldx;
    const float* x1 = x0 + ldx;
    const float* x2 = x1 + ldx;
    const float* x3 = x2 + ldx;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (int64_t i = 0; i < K8; i += 8) {
      const __m256 wv = L::load8(w, i);
      a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x0 + i), a0);
      a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x1 + i), a1);
      a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x2 + i), a2);
      a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x3 + i), a3);
    }
    float s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
    for (int64_t i = K8; i < K; ++i) {
      const float wv = L::load1(w, i);
      s0 += wv * x0[i];
      s1 += wv * x1[i];
      s2 += wv * x2[i];
      s3 += wv * x3[i];
    }
    y[int64_t(t) * ldy] = s0;
    y[int64_t(t + 1) * ldy] = s1;
    y[int64_t(t + 2) * ldy] = s2;
    y[int64_t(t + 3) * ldy] = s3;
  }
  // One token (decode): the cost is streaming the weights from memory. Each core keeps only a few
  // cache-line misses in flight and the hardware prefetcher stops at every 4 KiB page, so a plain loop
  // reaches ~half the machine's read bandwidth; prefetching one 4 KiB page ahead (one cache line per
  // 64 bytes of weights, i.e. into the next row of a contiguous matrix) reaches about all of it.
  constexpr int64_t kPrefetchBytes = 4096;
  constexpr int64_t kLine = 64 / int64_t(sizeof(typename L::Elem));  // weights per cache line
  const char* wb = static_cast<const char*>(w);
  for (; t < T; ++t) {
    const float* x0 = x + int64_t(t) * ldx;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= K8; i += 32) {
      for (int64_t l = 0; l < 32; l += kLine)
        _mm_prefetch(wb + (i + l) * int64_t(sizeof(typename L::Elem)) + kPrefetchBytes, _MM_HINT_T0);
      a0 = _mm256_fmadd_ps(L::load8(w, i), _mm256_loadu_ps(x0 + i), a0);
      a1 = _mm256_fmadd_ps(L::load8(w, i + 8), _mm256_loadu_ps(x0 + i + 8), a1);
      a2 = _mm256_fmadd_ps(L::load8(w, i + 16), _mm256_loadu_ps(x0 + i + 16), a2);
      a3 = _mm256_fmadd_ps(L::load8(w, i + 24), _mm256_loadu_ps(x0 + i + 24), a3);
    }
    for (; i < K8; i += 8) a0 = _mm256_fmadd_ps(L::load8(w, i), _mm256_loadu_ps(x0 + i), a0);
    float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (i = K8; i < K; ++i) s += L::load1(w, i) * x0[i];
    y[int64_t(t) * ldy] = s;
  }
}

}  // namespace

const DotTable* avx2_table() {
  // __builtin_cpu_init: we may run from a static initialiser, before libgcc's own constructor.
  static const bool ok = (__builtin_cpu_init(), __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                                                    __builtin_cpu_supports("f16c"));
  static const DotTable table{&dot_rows<LoadF32>, &dot_rows<LoadBF16>, &dot_rows<LoadF16>};
  return ok ? &table : nullptr;
}

}  // namespace moescope::cpu::detail
