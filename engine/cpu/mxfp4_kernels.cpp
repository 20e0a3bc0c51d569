#include "engine/cpu/mxfp4_kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/model/mxfp4.h"

namespace moescope::cpu::detail {

#define MS_AVX2 __attribute__((target("avx2,fma,f16c")))

void decode_mxfp4_row_scalar(const uint8_t* row, int64_t K, float* out) {
  mxfp4::dequantize_row(row, row + K / 2, K, out);
}

namespace {
// 2^(s - 128): the E8M0 scale, halved for the doubled table. Built from its bits (a libm call per 32 values
// cost more than the decode); s = 0 and 1 give subnormals, left to ldexp.
inline float half_scale(uint8_t s) {
  if (s < 2) return std::ldexp(0.5f, int(s) - 127);
  const uint32_t bits = uint32_t(s - 1) << 23;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
}  // namespace

MS_AVX2 void decode_mxfp4_row_avx2(const uint8_t* row, int64_t K, float* out) {
  const uint8_t* scales = row + K / 2;
  // Twice the FP4 values, as int8 (exact): the scale below halves them back.
  const __m128i lut = _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
  const __m128i low4 = _mm_set1_epi8(0x0F);
  for (int64_t g = 0; g < K / 32; ++g) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + g * 16));
    const __m128i lo = _mm_and_si128(b, low4);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), low4);
    const __m128i v0 = _mm_shuffle_epi8(lut, _mm_unpacklo_epi8(lo, hi));  // values 0..15 of the block, in order
    const __m128i v1 = _mm_shuffle_epi8(lut, _mm_unpackhi_epi8(lo, hi));  // values 16..31
    const __m256 s = _mm256_set1_ps(half_scale(scales[g]));
    float* o = out + g * 32;
    _mm256_storeu_ps(o, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v0)), s));
    _mm256_storeu_ps(o + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(v0, 8))), s));
    _mm256_storeu_ps(o + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v1)), s));
    _mm256_storeu_ps(o + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(v1, 8))), s));
  }
}

namespace {

// Per-thread fp32 scratch: grows to the widest row (panel) once, then no allocation per token.
float* scratch(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

}  // namespace

void mxfp4_rows_scalar(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy) {
  float* row = scratch(size_t(K));
  decode_mxfp4_row_scalar(static_cast<const uint8_t*>(w), K, row);
  scalar_table().f32(x, ldx, T, row, K, y, ldy);
}

void mxfp4_rows_avx2(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy) {
  float* row = scratch(size_t(K));
  decode_mxfp4_row_avx2(static_cast<const uint8_t*>(w), K, row);
  avx2_table()->f32(x, ldx, T, row, K, y, ldy);
}

void mxfp4_tiles(TileRowsFn f32_tiles, const float* x, int64_t ldx, int T, const void* w, int64_t K, int R, float* y,
                 int64_t ldy) {
  const auto* rows = static_cast<const uint8_t*>(w);
  const size_t rb = size_t(K / 2 + K / 32);
  float* panel = scratch(size_t(kMxfp4PanelRows) * size_t(K));
  for (int r0 = 0; r0 < R; r0 += kMxfp4PanelRows) {
    const int n = std::min(kMxfp4PanelRows, R - r0);
    for (int i = 0; i < n; ++i) decode_mxfp4_row_avx2(rows + size_t(r0 + i) * rb, K, panel + size_t(i) * size_t(K));
    f32_tiles(x, ldx, T, panel, K, n, y + r0, ldy);
  }
}

}  // namespace moescope::cpu::detail
