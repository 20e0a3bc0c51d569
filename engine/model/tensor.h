// A typed, read-only view of a tensor stored in a (memory-mapped) checkpoint or owned buffer.
// Weights stay in their stored dtype; kernels widen to fp32 as they read.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace moescope {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL };

size_t dtype_size(DType t);
const char* dtype_name(DType t);     // safetensors spelling: "F32", "BF16", ...
bool dtype_from_name(const std::string& s, DType& out);

struct TensorRef {
  std::string name;              // checkpoint tensor name (for error messages)
  DType dtype = DType::F32;
  std::vector<int64_t> shape;    // row-major
  const std::byte* data = nullptr;
  size_t nbytes = 0;

  bool valid() const { return data != nullptr; }
  int64_t numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  int64_t rows() const { return shape.empty() ? 0 : shape[0]; }
  int64_t cols() const { return shape.size() < 2 ? 1 : numel() / shape[0]; }
  // Rows [first, first+count) of a 2-D (or leading-dim) tensor, as a view.
  TensorRef slice_rows(int64_t first, int64_t count) const;
  // Element i as fp32 (slow; for tests and small vectors such as biases and norms).
  float at(int64_t i) const;
  std::vector<float> to_f32() const;
};

}  // namespace moescope
