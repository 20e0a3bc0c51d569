// MXFP4 (OCP microscaling FP4), the format of the released GPT-OSS checkpoints' expert weights:
// `<proj>_blocks` uint8 [..., rows, K/32, 16] holds two FP4 (e2m1) codes per byte, the low nibble first,
// and `<proj>_scales` uint8 [..., rows, K/32] one power-of-two exponent (E8M0, bias 127) per 32 values.
// Every value is code_value * 2^(scale - 127): at most 2 significant bits, so it is exact in bf16 and fp32.
#pragma once
#include <cstdint>

namespace moescope::mxfp4 {

// The value of FP4 (e2m1) code 0..15: 0, 0.5, 1, 1.5, 2, 3, 4, 6, then the same negated.
float code_value(uint8_t code);

// One row of K values (K a multiple of 32) from its K/2 bytes of blocks and K/32 scales.
void dequantize_row(const uint8_t* blocks, const uint8_t* scales, int64_t K, float* out);

}  // namespace moescope::mxfp4
