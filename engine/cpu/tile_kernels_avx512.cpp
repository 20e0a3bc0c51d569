// AVX-512 register tiles (4 weight rows x 6 tokens = 24 of the 32 zmm registers) for batched linears on
// CPUs that have AVX512F/BW; same contract as tile_kernels_avx2.cpp (16-lane accumulators here, so sums
// differ from the AVX2 tiles in the last bits).
#include <immintrin.h>

#include <algorithm>

#include "engine/cpu/activation_rows.h"
#include "engine/cpu/tile_kernels.h"
#include "engine/util/half.h"

namespace moescope::cpu::detail {

#define MS_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

namespace {

struct LoadF32 {
  using T = float;
  MS_AVX512 static __m512 load16(const T* w) { return _mm512_loadu_ps(w); }
  static float load1(const T* w) { return *w; }
};
struct LoadBF16 {
  using T = uint16_t;
  MS_AVX512 static __m512 load16(const T* w) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static float load1(const T* w) { return bf16_to_f32(*w); }
};
struct LoadF16 {
  using T = uint16_t;
  MS_AVX512 static __m512 load16(const T* w) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)));
  }
  static float load1(const T* w) { return fp16_to_f32(*w); }
};

// `next`: the weight rows the following row block will read, prefetched while this one computes (the
// weights stream from memory once per prefill; new streams at block boundaries would otherwise stall).
template <class L, int RB, int TB>
MS_AVX512 inline void tile(const float* x, int64_t ldx, const typename L::T* w, int64_t K, float* y, int64_t ldy,
                           const typename L::T* next = nullptr) {
  const int64_t K16 = K & ~int64_t(15);
  __m512 acc[RB][TB];
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < K16; i += 16) {
    if (next)
      for (int r = 0; r < RB; ++r) _mm_prefetch(reinterpret_cast<const char*>(next + r * K + i), _MM_HINT_T0);
    __m512 xv[TB];
    for (int t = 0; t < TB; ++t) xv[t] = _mm512_loadu_ps(x + t * ldx + i);
    for (int r = 0; r < RB; ++r) {
      const __m512 wv = L::load16(w + r * K + i);
      for (int t = 0; t < TB; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int t = 0; t < TB; ++t) {
      float s = _mm512_reduce_add_ps(acc[r][t]);
      const float* xr = x + t * ldx;
      for (int64_t i = K16; i < K; ++i) s += L::load1(w + r * K + i) * xr[i];
      y[t * ldy + r] = s;
    }
}

template <class L, int RB>
MS_AVX512 inline void row_block(const float* x, int64_t ldx, int T, const typename L::T* w, int64_t K, float* y,
                                int64_t ldy, const typename L::T* next = nullptr) {
  int t = 0;
  if (next && T >= 6) {  // the first token tile prefetches the next block's rows
    tile<L, RB, 6>(x, ldx, w, K, y, ldy, next);
    t = 6;
  }
  for (; t + 6 <= T; t += 6) tile<L, RB, 6>(x + t * ldx, ldx, w, K, y + t * ldy, ldy);
  switch (T - t) {
    case 5: tile<L, RB, 3>(x + t * ldx, ldx, w, K, y + t * ldy, ldy); t += 3; [[fallthrough]];
    case 2: tile<L, RB, 2>(x + t * ldx, ldx, w, K, y + t * ldy, ldy); break;
    case 4: tile<L, RB, 4>(x + t * ldx, ldx, w, K, y + t * ldy, ldy); break;
    case 3: tile<L, RB, 3>(x + t * ldx, ldx, w, K, y + t * ldy, ldy); break;
    case 1: tile<L, RB, 1>(x + t * ldx, ldx, w, K, y + t * ldy, ldy); break;
    default: break;
  }
}

template <class L>
MS_AVX512 void tile_rows(const float* x, int64_t ldx, int T, const void* wv, int64_t K, int R, float* y, int64_t ldy) {
  const auto* w = static_cast<const typename L::T*>(wv);
  const int chunk = K <= 1024 ? 96 : K <= 4096 ? 36 : 12;  // activations of a chunk stay in L2
  for (int t0 = 0; t0 < T; t0 += chunk) {
    const int tn = std::min(chunk, T - t0);
    const ActivationRows a = spread_over_l1_sets(x + int64_t(t0) * ldx, ldx, tn, K);
    const float* xc = a.x;
    float* yc = y + int64_t(t0) * ldy;
    int r = 0;
    for (; r + 4 <= R; r += 4)
      row_block<L, 4>(xc, a.ld, tn, w + r * K, K, yc + r, ldy, t0 == 0 && r + 8 <= R ? w + (r + 4) * K : nullptr);
    for (; r < R; ++r) row_block<L, 1>(xc, a.ld, tn, w + r * K, K, yc + r, ldy);
  }
}

}  // namespace

const TileTable* avx512_tile_table() {
  static const bool ok = (__builtin_cpu_init(), __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                                    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("f16c"));
  static const TileTable table{&tile_rows<LoadF32>, &tile_rows<LoadBF16>, &tile_rows<LoadF16>};
  return ok ? &table : nullptr;
}

}  // namespace moescope::cpu::detail
