// FP8 E4M3 decoding by its definition (the reference the CPU kernels are tested against).
#include "engine/model/fp8.h"

#include <cmath>
#include <limits>

namespace moescope::fp8 {

float e4m3_to_f32(uint8_t code) {
  if (e4m3_is_nan(code)) return std::numeric_limits<float>::quiet_NaN();
  const int e = (code >> 3) & 0xF, m = code & 0x7;
  const float mag = e == 0 ? std::ldexp(float(m), -9)             // subnormal: m/8 * 2^-6
                           : std::ldexp(float(8 + m), e - 10);    // (1 + m/8) * 2^(e-7)
  return (code & 0x80) ? -mag : mag;
}

void dequantize_row(const uint8_t* row, int64_t K, float* out) {
  for (int64_t k = 0; k < K; ++k) out[k] = e4m3_to_f32(row[k]) * row_scale(row, K, k / kGroup);
}

float value_at(const uint8_t* row, int64_t K, int64_t k) { return e4m3_to_f32(row[k]) * row_scale(row, K, k / kGroup); }

}  // namespace moescope::fp8
