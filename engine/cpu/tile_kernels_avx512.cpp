// AVX-512 register tiles (4 weight rows x 6 tokens = 24 of the 32 zmm registers) for batched linears on
// CPUs that have AVX512F/BW; same contract as tile_kernels_avx2.cpp (16-lane accumulators here, so sums
// differ from the AVX2 tiles in the last bits). Batches of kBroadcastMinTokens or more go to the broadcast
// kernel (tile_kernels_avx512_broadcast.cpp), all but a remainder of under 8 tokens.
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "engine/cpu/activation_rows.h"
#include "engine/cpu/avx512_loads.h"
#include "engine/cpu/tile_kernels.h"

namespace moescope::cpu::detail {

namespace {

using avx512::LoadBF16;
using avx512::LoadF16;
using avx512::LoadF32;

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
MS_AVX512 inline void token_tile(int TB, const float* x, int64_t ldx, const typename L::T* w, int64_t K, float* y,
                                 int64_t ldy, const typename L::T* next) {
  switch (TB) {
    case 6: tile<L, RB, 6>(x, ldx, w, K, y, ldy, next); break;
    case 5: tile<L, RB, 5>(x, ldx, w, K, y, ldy, next); break;
    case 4: tile<L, RB, 4>(x, ldx, w, K, y, ldy, next); break;
    case 3: tile<L, RB, 3>(x, ldx, w, K, y, ldy, next); break;
    case 2: tile<L, RB, 2>(x, ldx, w, K, y, ldy, next); break;
    default: tile<L, RB, 1>(x, ldx, w, K, y, ldy, next); break;
  }
}

// The T tokens in ceil(T / 6) tiles of near-equal width (16 = 6 + 5 + 5, 11 = 6 + 5), not full tiles plus
// a narrow remainder: a narrow tile widens every weight for few tokens.
template <class L, int RB>
MS_AVX512 inline void row_block(const float* x, int64_t ldx, int T, const typename L::T* w, int64_t K, float* y,
                                int64_t ldy, const typename L::T* next = nullptr) {
  const int tiles = (T + 5) / 6;
  for (int i = 0, t = 0; i < tiles; ++i) {
    const int tb = (T - t + (tiles - i) - 1) / (tiles - i);  // share the rest evenly over the tiles left
    token_tile<L, RB>(tb, x + t * ldx, ldx, w, K, y + t * ldy, ldy, i == 0 ? next : nullptr);
    t += tb;
  }
}

template <class L>
MS_AVX512 void tile_rows(const float* x, int64_t ldx, int T, const void* wv, int64_t K, int R, float* y, int64_t ldy) {
  const auto* w = static_cast<const typename L::T*>(wv);
  if (T >= kBroadcastMinTokens) {  // whole 16-token vectors (and a remainder of 8 or more) to the broadcast kernel
    const int rem = T % 16;
    const int nb = rem == 0 || rem >= 8 ? T : T - rem;
    const TileTable* b = avx512_broadcast_table();
    const TileRowsFn fn = std::is_same_v<L, LoadF32> ? b->f32 : std::is_same_v<L, LoadBF16> ? b->bf16 : b->f16;
    fn(x, ldx, nb, wv, K, R, y, ldy);
    x += int64_t(nb) * ldx;
    y += int64_t(nb) * ldy;
    T -= nb;
  }
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
