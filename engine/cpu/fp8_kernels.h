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

// TileRowsFn over R FP8_B128 rows: decoded panel_rows(K) at a time into fp32, then `f32_tiles`.
void fp8_tiles(TileRowsFn f32_tiles, const float* x, int64_t ldx, int T, const void* w, int64_t K, int R, float* y,
               int64_t ldy);
// Rows per fp32 panel: about 1 MiB of them (8 to 256 rows). The fp32 tiles prepare the activations once per call
// (a copy to a padded stride, or a transpose for the broadcast kernel), so a panel of a few rows repeats that work
// for every few rows: 8-row panels made an FP8 prefill 1.5x as costly. (MXFP4 keeps 8-row panels: 40-row ones
// measured 5-10 % slower on GPT-OSS shapes, whose attention is bf16 and whose expert batches are small.)
int panel_rows(int64_t K);

}  // namespace moescope::cpu::detail
