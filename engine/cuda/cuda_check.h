// Error checks for CUDA runtime calls: a failed call becomes moescope::Error naming the call site and
// the CUDA error string. Internal to engine/cuda.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "engine/util/error.h"

namespace moescope::cuda {

[[noreturn]] inline void throw_cuda(cudaError_t e, const char* what, const char* file, int line) {
  throw Error(std::string("CUDA error at ") + file + ":" + std::to_string(line) + " (" + what +
              "): " + cudaGetErrorString(e));
}

}  // namespace moescope::cuda

#define MOESCOPE_CUDA_CHECK(expr)                                                         \
  do {                                                                                    \
    const cudaError_t moescope_cuda_err_ = (expr);                                        \
    if (moescope_cuda_err_ != cudaSuccess)                                                \
      ::moescope::cuda::throw_cuda(moescope_cuda_err_, #expr, __FILE__, __LINE__);        \
  } while (0)

// After kernel launches: reports launch-configuration errors without synchronising.
#define MOESCOPE_CUDA_LAUNCHED() MOESCOPE_CUDA_CHECK(cudaGetLastError())
