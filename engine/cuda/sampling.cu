// Arg-max per logits row: one block per row, (value, index) pairs reduced with ties to the lower index.
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_common.cuh"
#include "engine/cuda/sampling.cuh"

namespace moescope::cuda {

namespace {

__device__ __forceinline__ void better(float& v, int& i, float ov, int oi) {
  // NaN never wins; equal values go to the lower index.
  if (oi < 0) return;
  if (i < 0 || ov > v || (ov == v && oi < i) || (isnan(v) && !isnan(ov))) {
    v = ov;
    i = oi;
  }
}

__global__ void argmax_kernel(const float* __restrict__ logits, int vocab, int32_t* out) {
  __shared__ float sv[32];
  __shared__ int si[32];
  const float* row = logits + (long long)blockIdx.x * vocab;
  float v = 0.0f;
  int idx = -1;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) better(v, idx, row[i], i);
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, idx, o);
    better(v, idx, ov, oi);
  }
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (lane == 0) {
    sv[warp] = v;
    si[warp] = idx;
  }
  __syncthreads();
  if (warp == 0) {
    v = 0.0f;
    idx = -1;
    if (lane < int(blockDim.x >> 5)) {
      v = sv[lane];
      idx = si[lane];
    }
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, v, o);
      const int oi = __shfl_xor_sync(0xffffffffu, idx, o);
      better(v, idx, ov, oi);
    }
    if (lane == 0) out[blockIdx.x] = idx;
  }
}

}  // namespace

void launch_argmax_rows(const float* logits, int rows, int vocab, int32_t* out, cudaStream_t s) {
  if (rows <= 0) return;
  argmax_kernel<<<rows, 1024, 0, s>>>(logits, vocab, out);
  MOESCOPE_CUDA_LAUNCHED();
}

}  // namespace moescope::cuda
