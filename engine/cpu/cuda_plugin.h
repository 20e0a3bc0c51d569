// Loads the CUDA backend plugin (libmoescope_cuda.so) on first use; see engine/CMakeLists.txt for why
// the backend is a plugin rather than linked in.
#pragma once
#include <memory>

#include "engine/cpu/backend.h"

namespace moescope {

// The CUDA backend, or an Error starting with "no CUDA device: " saying why there is none
// (plugin not built or not found, CUDA libraries missing, no device).
std::unique_ptr<Backend> load_cuda_backend(std::shared_ptr<const Model> model, int max_context);

}  // namespace moescope
