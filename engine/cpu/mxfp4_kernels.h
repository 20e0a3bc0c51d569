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
void decode_mxfp4_row_avx2(const uint8_t* row, int64_t K, float* out);  // needs AVX2

// DotRowsFn over an MXFP4 row: scalar decode + scalar fp32 dots, or fused decode-dots per token (AVX-512 or AVX2).
void mxfp4_rows_scalar(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy);
void mxfp4_rows_avx2(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy);
// The AVX-512 one takes x in block order (mxfp4_block_order): it is the kernel when mxfp4_avx512() is true.
void mxfp4_rows_avx512(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy);
bool mxfp4_avx512();
// Tests: use the AVX2 kernels even where AVX-512 is there (returns whether AVX-512 is now in use).
bool set_mxfp4_avx512(bool on);
// T rows of K activations reordered per 32-block, the 16 even elements then the 16 odd ones (the order in which a
// byte's low and high nibbles come out), in per-thread scratch with row stride K; valid until the next call on
// this thread. Done once per linear call, shared by every weight row.
const float* mxfp4_block_order(const float* x, int64_t ldx, int T, int64_t K);
// TileRowsFn over R MXFP4 rows: decoded kMxfp4PanelRows at a time into fp32, then `f32_tiles`. Where
// mxfp4_avx512(), rows are decoded in block order and x must be in block order as well.
void mxfp4_tiles(TileRowsFn f32_tiles, const float* x, int64_t ldx, int T, const void* w, int64_t K, int R, float* y,
                 int64_t ldy);
constexpr int kMxfp4PanelRows = 8;

}  // namespace moescope::cpu::detail
