// Kernels of the linear layers: the decode-sized warp-per-row GEMV (one pass over each weight row for
// up to kSmallRows tokens), the fp32 widening used before cuBLAS, and the bias add.
#include <cstdint>

#include <algorithm>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_common.cuh"
#include "engine/cuda/linear.cuh"

namespace moescope::cuda {

namespace {

constexpr int kRowsPerBlock = 8;  // one warp per output row

// VEC > 1: each lane loads 16 bytes of the weight row at a time (needs K % VEC == 0, 16-byte rows).
template <class W, int VEC>
__global__ void __launch_bounds__(256) linear_small_kernel(const float* __restrict__ x, long long ldx, int T,
                                                           const W* __restrict__ w, int K, int N,
                                                           const float* __restrict__ bias, float* __restrict__ y,
                                                           long long ldy, int accumulate) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int n = blockIdx.x * kRowsPerBlock + warp;
  if (n >= N) return;
  float acc[kSmallRows];
#pragma unroll
  for (int t = 0; t < kSmallRows; ++t) acc[t] = 0.0f;
  const W* row = w + size_t(n) * K;
  for (int k = lane * VEC; k < K; k += 32 * VEC) {
    float wv[VEC];
    if constexpr (VEC > 1) {
      const uint4 raw = *reinterpret_cast<const uint4*>(row + k);
      const W* e = reinterpret_cast<const W*>(&raw);
#pragma unroll
      for (int v = 0; v < VEC; ++v) wv[v] = to_f32(e[v]);
    } else {
      wv[0] = to_f32(row[k]);
    }
#pragma unroll
    for (int t = 0; t < kSmallRows; ++t) {
      if (t < T) {
        const float* xr = x + t * ldx + k;
#pragma unroll
        for (int v = 0; v < VEC; ++v) acc[t] = fmaf(wv[v], xr[v], acc[t]);
      }
    }
  }
  const float b = bias ? bias[n] : 0.0f;
#pragma unroll
  for (int t = 0; t < kSmallRows; ++t) {
    if (t < T) {
      const float s = warp_sum(acc[t]);
      if (lane == 0) {
        float* dst = y + t * ldy + n;
        *dst = accumulate ? *dst + (s + b) : s + b;
      }
    }
  }
}

template <class W>
__global__ void widen_kernel(const W* __restrict__ in, float* __restrict__ out, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    out[i] = to_f32(in[i]);
}

__global__ void add_bias_kernel(float* y, long long ldy, int T, int N, const float* __restrict__ bias) {
  const long long total = (long long)T * N;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    const int t = int(i / N), n = int(i % N);
    y[t * ldy + n] += bias[n];
  }
}

}  // namespace

void launch_linear_small(const float* x, int64_t ldx, int T, const DMat& W, const float* bias, float* y, int64_t ldy,
                         bool accumulate, cudaStream_t s) {
  if (T <= 0) return;
  if (T > kSmallRows) throw Error("launch_linear_small: " + std::to_string(T) + " rows (at most 8)");
  const int K = W.cols, N = W.rows;
  const unsigned blocks = ceil_div(N, kRowsPerBlock);
  dispatch_wtype(W.type, [&](auto tag) {
    using T_ = decltype(tag);
    constexpr int VEC = 16 / int(sizeof(T_));
    const bool vec_ok = K % VEC == 0 && (reinterpret_cast<uintptr_t>(W.data) % 16) == 0;
    const T_* w = static_cast<const T_*>(W.data);
    if (vec_ok)
      linear_small_kernel<T_, VEC><<<blocks, 32 * kRowsPerBlock, 0, s>>>(x, ldx, T, w, K, N, bias, y, ldy, accumulate);
    else
      linear_small_kernel<T_, 1><<<blocks, 32 * kRowsPerBlock, 0, s>>>(x, ldx, T, w, K, N, bias, y, ldy, accumulate);
  });
  MOESCOPE_CUDA_LAUNCHED();
}

void launch_widen(const DMat& W, float* out, cudaStream_t s) {
  const size_t n = size_t(W.rows) * size_t(W.cols);
  const unsigned blocks = unsigned(std::min<size_t>((n + 255) / 256, 65535));
  dispatch_wtype(W.type, [&](auto tag) {
    using T_ = decltype(tag);
    widen_kernel<T_><<<blocks, 256, 0, s>>>(static_cast<const T_*>(W.data), out, n);
  });
  MOESCOPE_CUDA_LAUNCHED();
}

void launch_add_bias(float* y, int64_t ldy, int T, int N, const float* bias, cudaStream_t s) {
  if (!bias || T <= 0) return;
  const unsigned blocks = unsigned(std::min<long long>(ceil_div((long long)T * N, 256), 65535));
  add_bias_kernel<<<blocks, 256, 0, s>>>(y, ldy, T, N, bias);
  MOESCOPE_CUDA_LAUNCHED();
}

}  // namespace moescope::cuda
