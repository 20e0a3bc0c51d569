// Public entry points of the CUDA backend, in plain C++ (no CUDA headers) so that the engine, the CLI
// and the tests can include it. Only declared when the engine is built with MOESCOPE_CUDA.
#pragma once
#include <memory>
#include <string>

#include "engine/cpu/backend.h"

namespace moescope {

// "" when a CUDA device and cuBLAS are usable; otherwise the one message every caller shows,
// "no CUDA device: <cuda error string>" (no driver, no GPU, cuBLAS cannot initialise).
std::string cuda_unavailable_reason();

// The CUDA backend (same Backend contract as the CPU reference). Throws Error with
// cuda_unavailable_reason() when there is no usable device.
std::unique_ptr<Backend> make_cuda_backend(std::shared_ptr<const Model> model, int max_context);

}  // namespace moescope
