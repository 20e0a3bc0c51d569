// dtype helpers and fp32 widening for TensorRef.
#include "engine/model/tensor.h"

#include <cstring>

#include "engine/model/fp8.h"
#include "engine/model/mxfp4.h"
#include "engine/util/error.h"
#include "engine/util/half.h"

namespace moescope {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::I8: case DType::U8: case DType::BOOL: case DType::F8_E4M3: return 1;
    case DType::MXFP4: case DType::FP8_B128: return 0;
  }
  return 0;
}

size_t row_bytes(DType t, int64_t cols) {
  if (t == DType::MXFP4) return size_t(cols / 2 + cols / 32);
  if (t == DType::FP8_B128) return fp8::row_bytes(cols);
  return size_t(cols) * dtype_size(t);
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F64: return "F64";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::BOOL: return "BOOL";
    case DType::F8_E4M3: return "F8_E4M3";
    case DType::MXFP4: return "MXFP4";
    case DType::FP8_B128: return "FP8_B128";
  }
  return "?";
}

bool dtype_from_name(const std::string& s, DType& out) {
  static const struct { const char* n; DType t; } table[] = {
      {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F64", DType::F64},
      {"I64", DType::I64}, {"I32", DType::I32}, {"I16", DType::I16}, {"I8", DType::I8},
      {"U8", DType::U8},   {"BOOL", DType::BOOL}, {"F8_E4M3", DType::F8_E4M3}};
  for (const auto& e : table)
    if (s == e.n) { out = e.t; return true; }
  return false;
}

TensorRef TensorRef::slice_rows(int64_t first, int64_t count) const {
  if (shape.empty() || first < 0 || count < 0 || first + count > shape[0])
    throw Error("tensor '" + name + "': row slice out of range");
  TensorRef r = *this;
  const size_t rb = row_bytes(dtype, cols());
  r.shape[0] = count;
  r.data = data + size_t(first) * rb;
  r.nbytes = size_t(count) * rb;
  return r;
}

float TensorRef::at(int64_t i) const {
  if (dtype == DType::MXFP4) {
    const int64_t K = cols();
    const auto* row = reinterpret_cast<const uint8_t*>(data) + size_t(i / K) * row_bytes(dtype, K);
    return mxfp4::value_at(row, row + K / 2, i % K);
  }
  if (dtype == DType::FP8_B128) {
    const int64_t K = cols();
    return fp8::value_at(reinterpret_cast<const uint8_t*>(data) + size_t(i / K) * row_bytes(dtype, K), K, i % K);
  }
  const std::byte* p = data + size_t(i) * dtype_size(dtype);
  switch (dtype) {
    case DType::F32: { float v; std::memcpy(&v, p, 4); return v; }
    case DType::F16: { uint16_t v; std::memcpy(&v, p, 2); return fp16_to_f32(v); }
    case DType::BF16: { uint16_t v; std::memcpy(&v, p, 2); return bf16_to_f32(v); }
    case DType::F64: { double v; std::memcpy(&v, p, 8); return float(v); }
    case DType::I64: { int64_t v; std::memcpy(&v, p, 8); return float(v); }
    case DType::I32: { int32_t v; std::memcpy(&v, p, 4); return float(v); }
    case DType::I16: { int16_t v; std::memcpy(&v, p, 2); return float(v); }
    case DType::I8: return float(int8_t(p[0]));
    case DType::U8: case DType::BOOL: return float(uint8_t(p[0]));
    case DType::F8_E4M3: return fp8::e4m3_to_f32(uint8_t(p[0]));
    case DType::MXFP4: case DType::FP8_B128: break;
  }
  return 0.0f;
}

std::vector<float> TensorRef::to_f32() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i) out[size_t(i)] = at(i);
  return out;
}

}  // namespace moescope
