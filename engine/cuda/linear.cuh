// Linear layers y = x W^T (+ bias) over weights in their stored dtype, with fp32 activations and
// accumulation. Small batches (decode) use a warp-per-output-row kernel that reads each weight once;
// larger batches widen the weight to fp32 and call cuBLAS (cublas_gemm.h). Host-includable.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/cuda/device_matrix.h"

namespace moescope::cuda {

// y[t, n] (+)= sum_k x[t, k] W[n, k] + bias[n] for t < T <= kSmallRows. bias may be null.
void launch_linear_small(const float* x, int64_t ldx, int T, const DMat& W, const float* bias, float* y, int64_t ldy,
                         bool accumulate, cudaStream_t s);
// out[i] = float(W[i]) for all rows*cols elements.
void launch_widen(const DMat& W, float* out, cudaStream_t s);
// y[t, n] += bias[n].
void launch_add_bias(float* y, int64_t ldy, int T, int N, const float* bias, cudaStream_t s);

}  // namespace moescope::cuda
