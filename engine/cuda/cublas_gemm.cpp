// cuBLAS, confined to this file: handle creation (where a machine without a GPU first fails) and the
// fp32 GEMM used for prefill-sized linears. TF32 stays off so results track the fp32 CPU reference.
#include "engine/cuda/cublas_gemm.h"

#include <cublas_v2.h>

#include <string>

#include "engine/util/error.h"

namespace moescope::cuda {

namespace {

const char* status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "cuBLAS error";
  }
}

cublasHandle_t H(void* p) { return static_cast<cublasHandle_t>(p); }

}  // namespace

Blas::Blas() {
  cublasHandle_t h = nullptr;
  const cublasStatus_t st = cublasCreate(&h);
  if (st != CUBLAS_STATUS_SUCCESS) throw Error(std::string("no CUDA device: cuBLAS cannot start (") + status_name(st) + ")");
  m_handle = h;
  cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);  // no TF32: keep fp32 accuracy
}

Blas::~Blas() {
  if (m_handle) cublasDestroy(H(m_handle));
}

void Blas::set_stream(cudaStream_t s) { cublasSetStream(H(m_handle), s); }

void Blas::gemm_xwt(const float* x, int64_t ldx, int T, const float* W, int N, int K, float* y, int64_t ldy,
                    bool accumulate) {
  // Column-major view: y^T [N, T] = W^T' [N, K] * x^T [K, T], where W row-major [N, K] is W^T col-major.
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  const cublasStatus_t st = cublasSgemm(H(m_handle), CUBLAS_OP_T, CUBLAS_OP_N, N, T, K, &alpha, W, K, x, int(ldx), &beta,
                                        y, int(ldy));
  if (st != CUBLAS_STATUS_SUCCESS)
    throw Error(std::string("cuBLAS sgemm (") + std::to_string(T) + "x" + std::to_string(K) + " by " + std::to_string(N) +
                ") failed: " + status_name(st));
}

}  // namespace moescope::cuda
