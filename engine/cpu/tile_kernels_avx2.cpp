// AVX2 + FMA + F16C register tiles (4 weight rows x 3 tokens = 12 accumulators) for batched linears.
// Every (row, token) pair keeps one 8-lane accumulator over K in steps of 8, reduced the same way as
// dot_kernels_avx2.cpp, so results equal that kernel's four-token path bit for bit.
#include <immintrin.h>

#include <algorithm>

#include "engine/cpu/activation_rows.h"
#include "engine/cpu/tile_kernels.h"
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
  using T = float;
  MS_AVX2 static __m256 load8(const T* w) { return _mm256_loadu_ps(w); }
  static float load1(const T* w) { return *w; }
};
struct LoadBF16 {
  using T = uint16_t;
  MS_AVX2 static __m256 load8(const T* w) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float load1(const T* w) { return bf16_to_f32(*w); }
};
struct LoadF16 {
  using T = uint16_t;
  MS_AVX2 static __m256 load8(const T* w) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w))); }
  static float load1(const T* w) { return fp16_to_f32(*w); }
};

// RB weight rows x TB tokens.
template <class L, int RB, int TB>
MS_AVX2 inline void tile(const float* x, int64_t ldx, const typename L::T* w, int64_t K, float* y, int64_t ldy) {
  const int64_t K8 = K & ~int64_t(7);
  __m256 acc[RB][TB];
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < K8; i += 8) {
    __m256 xv[TB];
    for (int t = 0; t < TB; ++t) xv[t] = _mm256_loadu_ps(x + t * ldx + i);
    for (int r = 0; r < RB; ++r) {
      const __m256 wv = L::load8(w + r * K + i);
      for (int t = 0; t < TB; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) {
      float s = hsum(acc[r][t]);
      const float* xr = x + t * ldx;
      for (int64_t i = K8; i < K; ++i) s += L::load1(w + r * K + i) * xr[i];
      y[t * ldy + r] = s;
    }
}

template <class L, int RB>
MS_AVX2 inline void row_block(const float* x, int64_t ldx, int T, const typename L::T* w, int64_t K, float* y, int64_t ldy) {
  // Threes, ending in 2+2 rather than 3+1 when one token would be left (a lone token reuses nothing).
  const int threes = T % 3 == 1 && T >= 4 ? T / 3 - 1 : T / 3;
  int t = 0;
  for (int i = 0; i < threes; ++i, t += 3) tile<L, RB, 3>(x + t * ldx, ldx, w, K, y + t * ldy, ldy);
  for (; t + 2 <= T; t += 2) tile<L, RB, 2>(x + t * ldx, ldx, w, K, y + t * ldy, ldy);
  if (t < T) tile<L, RB, 1>(x + t * ldx, ldx, w, K, y + t * ldy, ldy);
}

template <class L>
MS_AVX2 void tile_rows(const float* x, int64_t ldx, int T, const void* wv, int64_t K, int R, float* y, int64_t ldy) {
  const auto* w = static_cast<const typename L::T*>(wv);
  // Token chunks small enough that their activations stay in L2 while every row block passes over them.
  const int chunk = K <= 1024 ? 96 : K <= 4096 ? 32 : 12;
  for (int t0 = 0; t0 < T; t0 += chunk) {
    const int tn = std::min(chunk, T - t0);
    const ActivationRows a = spread_over_l1_sets(x + int64_t(t0) * ldx, ldx, tn, K);
    float* yc = y + int64_t(t0) * ldy;
    int r = 0;
    for (; r + 4 <= R; r += 4) row_block<L, 4>(a.x, a.ld, tn, w + r * K, K, yc + r, ldy);
    for (; r < R; ++r) row_block<L, 1>(a.x, a.ld, tn, w + r * K, K, yc + r, ldy);
  }
}

}  // namespace

const TileTable* avx2_tile_table() {
  static const bool ok = (__builtin_cpu_init(), __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                                                    __builtin_cpu_supports("f16c"));
  static const TileTable table{&tile_rows<LoadF32>, &tile_rows<LoadBF16>, &tile_rows<LoadF16>};
  return ok ? &table : nullptr;
}

}  // namespace moescope::cpu::detail
