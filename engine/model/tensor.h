// A typed, read-only view of a tensor stored in a (memory-mapped) checkpoint or owned buffer.
// Weights stay in their stored dtype; kernels widen to fp32 as they read.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace moescope {

// MXFP4 is not a safetensors dtype (checkpoints store it as U8 blocks + scales); it is the engine's
// in-memory form of GPT-OSS experts: each row of K values (K a multiple of 32) is K/2 bytes of FP4 codes,
// two per byte, low nibble first, then K/32 E8M0 scale bytes (engine/model/mxfp4.h).
// F8_E4M3 is the safetensors dtype of FP8 checkpoints (one byte per weight, scales in a separate
// `weight_scale_inv` tensor); FP8_B128 is the engine's in-memory form of such a matrix: each row of K values
// is K bytes of E4M3 codes, then ceil(K/128) fp32 scales, one per 128 columns (engine/model/fp8.h).
enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, F8_E4M3, MXFP4, FP8_B128 };

size_t dtype_size(DType t);          // bytes per element; 0 for MXFP4 and FP8_B128 (use row_bytes)
size_t row_bytes(DType t, int64_t cols);  // bytes of one row of `cols` elements
const char* dtype_name(DType t);     // safetensors spelling: "F32", "BF16", "F8_E4M3", ...; "MXFP4", "FP8_B128"
bool dtype_from_name(const std::string& s, DType& out);  // safetensors dtypes only

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
