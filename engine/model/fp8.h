// FP8 E4M3 weights with block scales, the format of fine-grained FP8 checkpoints (DeepSeek-V3/R1, Qwen3-*-FP8,
// GLM-4.5-FP8, ...; `quantization_config: {"quant_method": "fp8", "weight_block_size": [bn, bk]}`):
// a matrix W [R, K] is stored as `<name>.weight` F8_E4M3 [R, K] and `<name>.weight_scale_inv` F32 [ceil(R/bn),
// ceil(K/bk)], and W[r][k] = fp32(code[r][k]) * scale_inv[r / bn][k / bk], one fp32 rounding, exactly as
// transformers' Fp8Dequantize computes it on the CPU.
//
// In memory the engine keeps such a matrix as DType::FP8_B128 rows: K code bytes, then ceil(K/128) fp32 scales,
// one per 128 columns (the scale of the block that column group lies in). So a row is self-contained, like an
// MXFP4 row, and a kernel that widens a code and multiplies it by its group's scale gets the same fp32 weight.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace moescope::fp8 {

constexpr int64_t kGroup = 128;  // columns per scale in an FP8_B128 row

inline int64_t groups(int64_t K) { return (K + kGroup - 1) / kGroup; }
inline size_t row_bytes(int64_t K) { return size_t(K) + 4 * size_t(groups(K)); }

// E4M3 ("fn": no infinities; 0x7F and 0xFF are NaN) as fp32, from the definition: sign, 4 exponent bits with
// bias 7, 3 mantissa bits, subnormals at exponent 0.
float e4m3_to_f32(uint8_t code);
inline bool e4m3_is_nan(uint8_t code) { return (code & 0x7F) == 0x7F; }

// The scale of column group g (columns g*128 .. g*128+127) of an FP8_B128 row of K values.
inline float row_scale(const uint8_t* row, int64_t K, int64_t g) {
  float s;
  std::memcpy(&s, row + K + 4 * g, 4);
  return s;
}

// The K values of one FP8_B128 row, and value k alone.
void dequantize_row(const uint8_t* row, int64_t K, float* out);
float value_at(const uint8_t* row, int64_t K, int64_t k);

}  // namespace moescope::fp8
