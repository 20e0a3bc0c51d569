// The C entry points the engine looks up after dlopen("libmoescope_cuda.so") (engine/cpu/cuda_plugin.cpp).
#include <cstring>

#include "engine/cuda/cuda_device.h"

extern "C" {

// Both sides must come from the same source tree: the Backend/Model layouts cross the boundary.
__attribute__((visibility("default"))) const char* moescope_cuda_plugin_version() { return MOESCOPE_VERSION; }

// Returns a heap-allocated Backend (the caller owns it) or throws moescope::Error.
__attribute__((visibility("default"))) moescope::Backend* moescope_cuda_create_backend(
    std::shared_ptr<const moescope::Model> model, int max_context) {
  return moescope::make_cuda_backend(std::move(model), max_context).release();
}

}  // extern "C"
