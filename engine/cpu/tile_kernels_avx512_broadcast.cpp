// AVX-512 batch kernel for many tokens (long prompts, dense layers of a prefill): tokens along the 16
// lanes, one weight at a time broadcast from a widened copy of a few rows. A tile of RB rows x NV token
// vectors keeps RB * NV = 24 accumulators; per step of K it loads NV activation vectors and RB weights,
// with no horizontal reduction at the end. On the Xeon of docs/performance.md it runs at ~100 GFLOP/s per
// core from L1/L2 against ~50-75 for the 4 x 6 dot tile of tile_kernels_avx512.cpp, which stays the path for
// fewer tokens (a one-vector tile needs a broadcast per multiply-add and is load-bound).
//
// Per group of up to 64 tokens: the activations are transposed into xt[k][16 * NV] (zero past the last
// token); per block of RB rows the weights are widened into an fp32 buffer whose row stride is one cache
// line longer than K (rows a multiple of 4 KiB apart would share L1 sets), then the tile runs over K in
// blocks of 128 whose partial sums are added to the block's running sum, so each output is a sum of
// 128-term sums, about as accurate as the dot tiles' 16-lane sums.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/cpu/activation_rows.h"
#include "engine/cpu/avx512_loads.h"
#include "engine/cpu/tile_kernels.h"

namespace moescope::cpu::detail {

namespace {

constexpr int64_t kBlockK = 128;

// 16 x 16 fp32 transpose in registers: r[i] holds row i on entry and column i on return.
MS_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) {
      t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
      t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
    }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
  }
}

// xt[k * 16 * nv + 16 * v + lane] = x[(16 * v + lane) * ldx + k] for tokens < tn, else 0.
MS_AVX512 void transpose_tokens(const float* x, int64_t ldx, int tn, int64_t K, int nv, float* xt) {
  const int64_t stride = 16 * int64_t(nv);
  for (int v = 0; v < nv; ++v)
    for (int64_t k0 = 0; k0 < K; k0 += 16) {
      const int kn = int(std::min<int64_t>(16, K - k0));
      const __mmask16 km = __mmask16((1u << kn) - 1u);
      __m512 r[16];
      for (int i = 0; i < 16; ++i) {
        const int t = 16 * v + i;
        r[i] = t < tn ? _mm512_maskz_loadu_ps(km, x + int64_t(t) * ldx + k0) : _mm512_setzero_ps();
      }
      transpose16(r);
      for (int c = 0; c < kn; ++c) _mm512_store_ps(xt + (k0 + c) * stride + 16 * v, r[c]);
    }
}

// rows < rn of w (row length K) widened into wf (row stride ldw); rows rn..RB-1 zero.
template <class L, int RB>
MS_AVX512 void widen_rows(const typename L::T* w, int64_t K, int rn, float* wf, int64_t ldw) {
  const int64_t K16 = K & ~int64_t(15);
  for (int r = 0; r < RB; ++r) {
    float* dst = wf + r * ldw;
    if (r >= rn) {
      std::memset(dst, 0, size_t(K) * sizeof(float));
      continue;
    }
    const typename L::T* src = w + r * K;
    for (int64_t i = 0; i < K16; i += 16) _mm512_store_ps(dst + i, L::load16(src + i));
    for (int64_t i = K16; i < K; ++i) dst[i] = L::load1(src + i);
  }
}

// out[r * 16 * NV + 16 * v + lane] = sum_k wf[r][k] * xt[k][16 * v + lane]. `next`/`next_bytes`: the
// weights the following block will widen, prefetched into L2 a few lines per block of K (all at once would
// overflow the queue of outstanding misses and most would be dropped).
template <int RB, int NV>
MS_AVX512 void broadcast_tile(const float* xt, const float* wf, int64_t ldw, int64_t K, float* out, const char* next,
                              int64_t next_bytes) {
  const int64_t blocks = (K + kBlockK - 1) / kBlockK;
  const int64_t per_block = (next_bytes + blocks * 64 - 1) / (blocks * 64) * 64;
  int64_t prefetched = 0;
  __m512 sum[RB][NV];
  for (int r = 0; r < RB; ++r)
    for (int v = 0; v < NV; ++v) sum[r][v] = _mm512_setzero_ps();
  for (int64_t k0 = 0; k0 < K; k0 += kBlockK) {
    const int64_t k1 = std::min(K, k0 + kBlockK);
    for (int64_t end = std::min(next_bytes, prefetched + per_block); prefetched < end; prefetched += 64)
      _mm_prefetch(next + prefetched, _MM_HINT_T1);
    __m512 acc[RB][NV];
    for (int r = 0; r < RB; ++r)
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
    for (int64_t k = k0; k < k1; ++k) {
      __m512 xv[NV];
      for (int v = 0; v < NV; ++v) xv[v] = _mm512_load_ps(xt + k * 16 * NV + 16 * v);
      for (int r = 0; r < RB; ++r) {
        const __m512 wb = _mm512_set1_ps(wf[r * ldw + k]);
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(wb, xv[v], acc[r][v]);
      }
    }
    for (int r = 0; r < RB; ++r)
      for (int v = 0; v < NV; ++v) sum[r][v] = _mm512_add_ps(sum[r][v], acc[r][v]);
  }
  for (int r = 0; r < RB; ++r)
    for (int v = 0; v < NV; ++v) _mm512_store_ps(out + (r * NV + v) * 16, sum[r][v]);
}

// All R rows for one group of tn <= 16 * NV tokens whose transposed activations are in xt.
template <class L, int NV>
MS_AVX512 void group_rows(const float* xt, int tn, const typename L::T* w, int64_t K, int R, float* y, int64_t ldy) {
  constexpr int RB = 24 / NV;
  const int64_t ldw = ((K + 15) & ~int64_t(15)) + 16;
  thread_local std::vector<float> wbuf;
  float* wf = aligned_scratch(wbuf, size_t(RB) * size_t(ldw));
  alignas(64) float out[RB * NV * 16];
  for (int r0 = 0; r0 < R; r0 += RB) {
    const int rn = std::min(RB, R - r0);
    const int next_rows = std::max(0, std::min(RB, R - r0 - RB));
    widen_rows<L, RB>(w + int64_t(r0) * K, K, rn, wf, ldw);
    broadcast_tile<RB, NV>(xt, wf, ldw, K, out, reinterpret_cast<const char*>(w + int64_t(r0 + rn) * K),
                           int64_t(next_rows) * K * int64_t(sizeof(typename L::T)));
    for (int t = 0; t < tn; ++t) {
      float* yt = y + int64_t(t) * ldy + r0;
      for (int r = 0; r < rn; ++r) yt[r] = out[(r * NV + t / 16) * 16 + t % 16];
    }
  }
}

template <class L>
MS_AVX512 void broadcast_rows(const float* x, int64_t ldx, int T, const void* wv, int64_t K, int R, float* y,
                              int64_t ldy) {
  const auto* w = static_cast<const typename L::T*>(wv);
  thread_local std::vector<float> xbuf;
  int vectors = (T + 15) / 16;
  for (int t0 = 0; t0 < T;) {
    // Groups of four vectors (64 tokens); five left become three + two rather than four + one.
    const int nv = vectors == 5 ? 3 : std::min(vectors, 4);
    const int tn = std::min(16 * nv, T - t0);
    float* xt = aligned_scratch(xbuf, size_t(K) * 16 * size_t(nv));
    transpose_tokens(x + int64_t(t0) * ldx, ldx, tn, K, nv, xt);
    float* yg = y + int64_t(t0) * ldy;
    switch (nv) {
      case 4: group_rows<L, 4>(xt, tn, w, K, R, yg, ldy); break;
      case 3: group_rows<L, 3>(xt, tn, w, K, R, yg, ldy); break;
      case 2: group_rows<L, 2>(xt, tn, w, K, R, yg, ldy); break;
      default: group_rows<L, 1>(xt, tn, w, K, R, yg, ldy); break;
    }
    t0 += tn;
    vectors -= nv;
  }
}

}  // namespace

const TileTable* avx512_broadcast_table() {
  static const bool ok = (__builtin_cpu_init(), __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                                    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("f16c"));
  static const TileTable table{&broadcast_rows<avx512::LoadF32>, &broadcast_rows<avx512::LoadBF16>,
                               &broadcast_rows<avx512::LoadF16>};
  return ok ? &table : nullptr;
}

}  // namespace moescope::cpu::detail
