// A weight matrix as the CUDA kernels see it: device pointer, stored element type, shape
// ([rows, cols] row-major, y = x W^T). Plain C++ so host code can build and pass it around.
#pragma once
#include <cstdint>

namespace moescope::cuda {

enum class WType : int { F32 = 0, BF16 = 1, F16 = 2 };

inline int wtype_size(WType t) { return t == WType::F32 ? 4 : 2; }

struct DMat {
  const void* data = nullptr;
  WType type = WType::F32;
  int rows = 0, cols = 0;
  bool valid() const { return data != nullptr; }
};

// Token rows per launch the warp-per-row kernels handle; larger batches go through cuBLAS.
constexpr int kSmallRows = 8;

}  // namespace moescope::cuda
