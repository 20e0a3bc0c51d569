// MXFP4 (OCP microscaling FP4), the format of the released GPT-OSS checkpoints' expert weights:
// `<proj>_blocks` uint8 [..., rows, K/32, 16] holds two FP4 (e2m1) codes per byte, the low nibble first,
// and `<proj>_scales` uint8 [..., rows, K/32] one power-of-two exponent (E8M0, bias 127) per 32 values.
// Every value is an FP4 value times 2^(scale - 127): at most 2 significant bits, so it is exact in bf16 and fp32.
#pragma once
#include <cstdint>

namespace moescope::mxfp4 {

// One row of K values (K a multiple of 32) from its K/2 bytes of blocks and K/32 scales.
void dequantize_row(const uint8_t* blocks, const uint8_t* scales, int64_t K, float* out);
// Value k of such a row, alone (as dequantize_row gives it).
float value_at(const uint8_t* blocks, const uint8_t* scales, int64_t k);

}  // namespace moescope::mxfp4
