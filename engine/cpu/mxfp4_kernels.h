// Internal: MXFP4 weight rows (DType::MXFP4, GPT-OSS experts) behind cpu::linear. A row is decoded to fp32
// once (AVX2 when the CPU has it; every MXFP4 value is exact in fp32) and then goes through the fp32
// kernels: the row dots for one token (decode), the register tiles for a batch, a few rows at a time. So a
// product equals the fp32 kernels' on the dequantized matrix, while memory holds 4.25 bits per weight.
#pragma once
#include <cstdint>

#include "engine/cpu/dot_kernels.h"
#include "engine/cpu/tile_kernels.h"

namespace moescope::cpu::detail {

// K values of one MXFP4 row (K/2 code bytes, then K/32 scale bytes) as fp32.
void decode_mxfp4_row_scalar(const uint8_t* row, int64_t K, float* out);
void decode_mxfp4_row_avx2(const uint8_t* row, int64_t K, float* out);  // only where avx2_table() is non-null

// DotRowsFn over an MXFP4 row: scalar decode + scalar fp32 dots, or AVX2 decode + AVX2 fp32 dots.
void mxfp4_rows_scalar(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy);
void mxfp4_rows_avx2(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy);
// TileRowsFn over R MXFP4 rows: decoded kMxfp4PanelRows at a time into fp32, then `f32_tiles`.
void mxfp4_tiles(TileRowsFn f32_tiles, const float* x, int64_t ldx, int T, const void* w, int64_t K, int R, float* y,
                 int64_t ldy);
constexpr int kMxfp4PanelRows = 16;

}  // namespace moescope::cpu::detail
