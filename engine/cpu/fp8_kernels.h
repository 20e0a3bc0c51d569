// Internal: FP8 weight rows (DType::FP8_B128: K E4M3 codes, then one fp32 scale per 128 columns; engine/model/fp8.h)
// behind cpu::linear. Each weight is widened to the fp32 value transformers' Fp8Dequantize gives it, code times
// scale rounded once, and then multiplied with the activations in fp32: one token (decode) with fused AVX2 dots,
// a batch by decoding a few rows into fp32 panels for the fp32 register tiles.
#pragma once
#include <cstdint>

#include "engine/cpu/dot_kernels.h"
#include "engine/cpu/tile_kernels.h"

namespace moescope::cpu::detail {

// The K values of one FP8_B128 row as fp32 (AVX2 + F16C; the scalar reference is fp8::dequantize_row), and with
// AVX-512 where the CPU has it (fp8_avx512()).
void decode_fp8_row_avx2(const uint8_t* row, int64_t K, float* out);
void decode_fp8_row_simd(const uint8_t* row, int64_t K, float* out);
bool fp8_avx512();
// Tests: use the AVX2 kernels even where AVX-512 is there (returns whether AVX-512 is now in use).
bool set_fp8_avx512(bool on);

// DotRowsFn over an FP8_B128 row: scalar decode + scalar fp32 dots, or fused decode-dots (AVX-512 or AVX2).
void fp8_rows_scalar(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy);
void fp8_rows_avx2(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy);

// TileRowsFn over R FP8_B128 rows: decoded kFp8PanelRows at a time into fp32, then `f32_tiles`.
void fp8_tiles(TileRowsFn f32_tiles, const float* x, int64_t ldx, int T, const void* w, int64_t K, int R, float* y,
               int64_t ldy);
constexpr int kFp8PanelRows = 8;

}  // namespace moescope::cpu::detail
