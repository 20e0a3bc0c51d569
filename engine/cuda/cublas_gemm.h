// The only place that talks to cuBLAS: an fp32 GEMM y = x W^T (+ y) with W row-major [N, K].
// Host-includable; the handle lives as long as the backend.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope::cuda {

class Blas {
 public:
  // Throws Error("no CUDA device: cuBLAS: ...") when cuBLAS cannot initialise.
  Blas();
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;

  void set_stream(cudaStream_t s);
  // y[t, n] = sum_k x[t, k] W[n, k] (+ y[t, n] when accumulate), t < T, n < N; all fp32 on device.
  void gemm_xwt(const float* x, int64_t ldx, int T, const float* W, int N, int K, float* y, int64_t ldy,
                bool accumulate);

 private:
  void* m_handle = nullptr;  // cublasHandle_t
};

}  // namespace moescope::cuda
