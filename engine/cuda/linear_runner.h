// y = x W^T (+ bias) (+ y) on the device for any batch: the warp-per-row kernel for up to kSmallRows
// tokens (decode), otherwise the weight widened to fp32 in a scratch buffer and cuBLAS. Internal.
#pragma once
#include <cuda_runtime.h>

#include "engine/cuda/cublas_gemm.h"
#include "engine/cuda/device_matrix.h"
#include "engine/cuda/device_memory.h"

namespace moescope::cuda {

class LinearRunner {
 public:
  explicit LinearRunner(cudaStream_t s) : m_stream(s) { m_blas.set_stream(s); }
  void run(const float* x, int64_t ldx, int T, const DMat& W, const float* bias, float* y, int64_t ldy,
           bool accumulate = false);
  cudaStream_t stream() const { return m_stream; }

 private:
  cudaStream_t m_stream;
  Blas m_blas;
  DeviceBuffer<float> m_widened;  // fp32 copy of a bf16/fp16 weight for cuBLAS (largest matrix so far)
};

}  // namespace moescope::cuda
