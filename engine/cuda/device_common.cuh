// Device helpers shared by the kernel files: widening loads of bf16/fp16/fp32 weights, warp
// reductions, and the dispatch from WType to a kernel template. Included by .cu files only.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "engine/cuda/device_matrix.h"

namespace moescope::cuda {

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Calls f(T{}) with T the element type of `t`.
template <class F>
void dispatch_wtype(WType t, F&& f) {
  switch (t) {
    case WType::F32: f(float{}); break;
    case WType::BF16: f(__nv_bfloat16{}); break;
    case WType::F16: f(__half{}); break;
  }
}

inline unsigned ceil_div(long long a, long long b) { return unsigned((a + b - 1) / b); }

}  // namespace moescope::cuda
