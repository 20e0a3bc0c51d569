#include "engine/model/mxfp4.h"

#include <cmath>

namespace moescope::mxfp4 {

namespace {
constexpr float kCodes[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                              -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
}

float value_at(const uint8_t* blocks, const uint8_t* scales, int64_t k) {
  const uint8_t byte = blocks[k / 2];
  return std::ldexp(kCodes[k % 2 ? byte >> 4 : byte & 15], int(scales[k / 32]) - 127);
}

void dequantize_row(const uint8_t* blocks, const uint8_t* scales, int64_t K, float* out) {
  for (int64_t g = 0; g < K / 32; ++g) {
    const int exp = int(scales[g]) - 127;
    const uint8_t* b = blocks + g * 16;
    float* o = out + g * 32;
    if (exp > 127) {  // 2^128 is not a float: per value, as ldexp gives it (inf, or 0 for code 0)
      for (int j = 0; j < 16; ++j) {
        o[2 * j] = std::ldexp(kCodes[b[j] & 15], exp);
        o[2 * j + 1] = std::ldexp(kCodes[b[j] >> 4], exp);
      }
      continue;
    }
    const float sc = std::ldexp(1.0f, exp);  // exact products: 2 significant bits times a power of two
    for (int j = 0; j < 16; ++j) {
      o[2 * j] = kCodes[b[j] & 15] * sc;
      o[2 * j + 1] = kCodes[b[j] >> 4] * sc;
    }
  }
}

}  // namespace moescope::mxfp4
