// MXFP4 rows: decode to fp32 (scalar reference, AVX2, AVX-512) and the two entry points behind cpu::linear.
// One token (decode) uses fused dots: a block of 32 codes is widened in registers, multiplied with the
// activations and summed, and the sum scaled once by the block's power of two (exact: scaling by 2^e commutes
// with rounding). A batch decodes up to kMxfp4PanelRows rows into fp32 and runs the fp32 register tiles.
#include "engine/cpu/mxfp4_kernels.h"
#include "engine/cpu/avx2_reduce.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/model/mxfp4.h"

// gcc 12 warns inside its own AVX-512 intrinsic headers (_mm512_cvtepu8_epi32 and friends start from an
// "undefined" register) when they are inlined here; the values are all defined.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace moescope::cpu::detail {

#define MS_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

namespace {

// Half the block scale, 2^(s - 128), for the AVX2 table of doubled values; built from its bits (a libm call per
// 32 values would cost more than the decode). The few powers that are not a normal float go to ldexp.
inline float half_block_scale(uint8_t s) {
  const int e = int(s) - 1;  // biased float exponent
  if (e < 1) return std::ldexp(1.0f, int(s) - 128);
  const uint32_t bits = uint32_t(e) << 23;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// The 32 codes of a 16-byte block in order (element 2j = low nibble of byte j): codes 0..15 and 16..31.
MS_AVX2 inline void split_codes(const uint8_t* b, __m128i& c0, __m128i& c1) {
  const __m128i low4 = _mm_set1_epi8(0x0F);
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
  const __m128i lo = _mm_and_si128(v, low4);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), low4);
  c0 = _mm_unpacklo_epi8(lo, hi);
  c1 = _mm_unpackhi_epi8(lo, hi);
}

// AVX2: twice the FP4 values as int8 (exact), so the scale is halved.
MS_AVX2 inline __m128i doubled_lut() { return _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12); }
MS_AVX2 inline __m256 widen8(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)); }

MS_AVX2 float dot_avx2(const uint8_t* row, int64_t K, const float* x) {
  const uint8_t* scales = row + K / 2;
  const __m128i lut = doubled_lut();
  __m256 acc = _mm256_setzero_ps();
  for (int64_t g = 0; g < K / 32; ++g) {
    __m128i c0, c1;
    split_codes(row + g * 16, c0, c1);
    const __m128i v0 = _mm_shuffle_epi8(lut, c0), v1 = _mm_shuffle_epi8(lut, c1);
    const float* xg = x + g * 32;
    __m256 p = _mm256_mul_ps(widen8(v0), _mm256_loadu_ps(xg));
    p = _mm256_fmadd_ps(widen8(_mm_srli_si128(v0, 8)), _mm256_loadu_ps(xg + 8), p);
    p = _mm256_fmadd_ps(widen8(v1), _mm256_loadu_ps(xg + 16), p);
    p = _mm256_fmadd_ps(widen8(_mm_srli_si128(v1, 8)), _mm256_loadu_ps(xg + 24), p);
    acc = _mm256_fmadd_ps(p, _mm256_set1_ps(half_block_scale(scales[g])), acc);
  }
  return hsum256(acc);
}

// AVX-512: the 16 FP4 values are one register; vpermps looks them up by the 4-bit code directly.
MS_AVX512 inline __m512 fp4_lut() {
  return _mm512_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f,
                        -6.0f);
}

// 2^(s - 127) for every scale byte, so a block's scale is one broadcast load (no shuffle port, no libm).
const float* scale_table() {
  static const auto table = [] {
    std::vector<float> t(256);
    for (int s = 0; s < 256; ++s) t[size_t(s)] = std::ldexp(1.0f, s - 127);
    return t;
  }();
  return table.data();
}

// x in block order (see mxfp4_block_order): per 32-block the 16 even elements, then the 16 odd ones. Each byte's
// two codes index the table straight from its 32-bit lane (vpermps reads 4 bits: the low nibble; the high one
// after a shift), three shuffle-port operations per 32 weights. One block's unscaled products, 16 lanes:
MS_AVX512 inline __m512 block_dot(const uint8_t* codes, const float* xb, __m512 lut) {
  const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes)));
  const __m512 w_even = _mm512_permutexvar_ps(idx, lut);
  const __m512 w_odd = _mm512_permutexvar_ps(_mm512_srli_epi32(idx, 4), lut);
  const __m512 p = _mm512_mul_ps(w_even, _mm512_loadu_ps(xb));
  return _mm512_fmadd_ps(w_odd, _mm512_loadu_ps(xb + 16), p);
}

MS_AVX512 float dot_avx512(const uint8_t* row, int64_t K, const float* xb) {
  const uint8_t* scales = row + K / 2;
  const float* st = scale_table();
  const __m512 lut = fp4_lut();
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  const int64_t G = K / 32;
  int64_t g = 0;
  for (; g + 2 <= G; g += 2) {
    _mm_prefetch(reinterpret_cast<const char*>(row + g * 16 + 1024), _MM_HINT_T0);
    acc0 = _mm512_fmadd_ps(block_dot(row + g * 16, xb + g * 32, lut), _mm512_set1_ps(st[scales[g]]), acc0);
    acc1 = _mm512_fmadd_ps(block_dot(row + g * 16 + 16, xb + g * 32 + 32, lut), _mm512_set1_ps(st[scales[g + 1]]), acc1);
  }
  if (g < G) acc0 = _mm512_fmadd_ps(block_dot(row + g * 16, xb + g * 32, lut), _mm512_set1_ps(st[scales[g]]), acc0);
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

// Block order (as dot_avx512 reads x): the even values of a block, then the odd ones.
MS_AVX512 void decode_block_order_avx512(const uint8_t* row, int64_t K, float* out) {
  const uint8_t* scales = row + K / 2;
  const float* st = scale_table();
  const __m512 lut = fp4_lut();
  for (int64_t g = 0; g < K / 32; ++g) {
    const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + g * 16)));
    const __m512 s = _mm512_set1_ps(st[scales[g]]);
    _mm512_storeu_ps(out + g * 32, _mm512_mul_ps(_mm512_permutexvar_ps(idx, lut), s));
    _mm512_storeu_ps(out + g * 32 + 16, _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(idx, 4), lut), s));
  }
}

bool cpu_has_avx512() {
  static const bool ok = (__builtin_cpu_init(), __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                                    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
                                                    __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"));
  return ok;
}
bool g_wide = cpu_has_avx512();  // tests turn it off to cover the AVX2 kernels on AVX-512 machines
bool has_avx512() { return g_wide; }

// Per-thread fp32 scratch, grown to the widest need once, then no allocation per token. Two slots: the
// block-ordered activations (held by the calling thread while it also runs kernels) and rows/panels.
enum ScratchSlot { kRows = 0, kActivations = 1 };
float* scratch(size_t n, ScratchSlot slot = kRows) {
  thread_local std::vector<float> bufs[2];
  std::vector<float>& buf = bufs[slot];
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

}  // namespace

void decode_mxfp4_row_scalar(const uint8_t* row, int64_t K, float* out) {
  mxfp4::dequantize_row(row, row + K / 2, K, out);
}

MS_AVX2 void decode_mxfp4_row_avx2(const uint8_t* row, int64_t K, float* out) {
  const uint8_t* scales = row + K / 2;
  const __m128i lut = doubled_lut();
  for (int64_t g = 0; g < K / 32; ++g) {
    __m128i c0, c1;
    split_codes(row + g * 16, c0, c1);
    const __m128i v0 = _mm_shuffle_epi8(lut, c0), v1 = _mm_shuffle_epi8(lut, c1);
    const __m256 s = _mm256_set1_ps(half_block_scale(scales[g]));
    float* o = out + g * 32;
    _mm256_storeu_ps(o, _mm256_mul_ps(widen8(v0), s));
    _mm256_storeu_ps(o + 8, _mm256_mul_ps(widen8(_mm_srli_si128(v0, 8)), s));
    _mm256_storeu_ps(o + 16, _mm256_mul_ps(widen8(v1), s));
    _mm256_storeu_ps(o + 24, _mm256_mul_ps(widen8(_mm_srli_si128(v1, 8)), s));
  }
}

void mxfp4_rows_scalar(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy) {
  float* row = scratch(size_t(K));
  decode_mxfp4_row_scalar(static_cast<const uint8_t*>(w), K, row);
  scalar_table().f32(x, ldx, T, row, K, y, ldy);
}

void mxfp4_rows_avx2(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy) {
  const auto* row = static_cast<const uint8_t*>(w);
  for (int t = 0; t < T; ++t) y[int64_t(t) * ldy] = dot_avx2(row, K, x + int64_t(t) * ldx);
}

void mxfp4_rows_avx512(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy) {
  const auto* row = static_cast<const uint8_t*>(w);
  for (int t = 0; t < T; ++t) y[int64_t(t) * ldy] = dot_avx512(row, K, x + int64_t(t) * ldx);
}

bool mxfp4_avx512() { return has_avx512(); }
bool set_mxfp4_avx512(bool on) {
  g_wide = on && cpu_has_avx512();
  return g_wide;
}

const float* mxfp4_block_order(const float* x, int64_t ldx, int T, int64_t K) {
  float* out = scratch(size_t(T) * size_t(K), kActivations);
  for (int t = 0; t < T; ++t) {
    const float* src = x + int64_t(t) * ldx;
    float* dst = out + int64_t(t) * K;
    for (int64_t g = 0; g < K; g += 32)
      for (int j = 0; j < 16; ++j) {
        dst[g + j] = src[g + 2 * j];
        dst[g + 16 + j] = src[g + 2 * j + 1];
      }
  }
  return out;
}

void mxfp4_tiles(TileRowsFn f32_tiles, const float* x, int64_t ldx, int T, const void* w, int64_t K, int R, float* y,
                 int64_t ldy) {
  const auto* rows = static_cast<const uint8_t*>(w);
  const size_t rb = size_t(K / 2 + K / 32);
  const bool block_order = has_avx512();  // then x comes in block order too (mxfp4_block_order)
  float* panel = scratch(size_t(kMxfp4PanelRows) * size_t(K));
  for (int r0 = 0; r0 < R; r0 += kMxfp4PanelRows) {
    const int n = std::min(kMxfp4PanelRows, R - r0);
    for (int i = 0; i < n; ++i) {
      const uint8_t* row = rows + size_t(r0 + i) * rb;
      float* out = panel + size_t(i) * size_t(K);
      if (block_order)
        decode_block_order_avx512(row, K, out);
      else
        decode_mxfp4_row_avx2(row, K, out);
    }
    f32_tiles(x, ldx, T, panel, K, n, y + r0, ldy);
  }
}

}  // namespace moescope::cpu::detail
