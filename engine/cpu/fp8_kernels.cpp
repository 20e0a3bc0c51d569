// FP8_B128 rows: fused AVX2 decode-dots (one token) and fp32 panels (batches).
//
// E4M3 to fp32 without a table: the byte sign-extended to 16 bits and shifted left by 7 has the sign in bits 14 and
// 15 and the 7 magnitude bits at 7..13; clearing bit 14 leaves an fp16 whose exponent field is E4M3's (bias 15
// instead of 7) and whose mantissa is E4M3's, i.e. the E4M3 value times 2^-8 exactly, E4M3 subnormals included
// (fp16 subnormals, which vcvtph2ps widens exactly and at full speed; an fp32 route through fp32 subnormals cost
// 4x here in microcode assists). The block scale taken times 2^8 (exact) brings it back in one multiply, so each
// weight is code * scale rounded once, the value transformers' Fp8Dequantize computes in fp32, and the dot then
// sums those weights times the activations like the fp32 kernels.
#include "engine/cpu/fp8_kernels.h"
#include "engine/cpu/avx2_reduce.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/model/fp8.h"

namespace moescope::cpu::detail {

#define MS_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

namespace {

constexpr float kTwo8 = 256.0f;
// Groups whose scale is too big to take times 2^8 (never in real checkpoints) are computed by the scalar code.
inline bool fast_scale(float scale) { return std::fabs(scale) < 1e36f; }

// Eight codes as fp32 values times 2^-8 (exact).
MS_AVX2 inline __m256 widen8(const uint8_t* codes) {
  const __m128i v = _mm_cvtepi8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes)));
  return _mm256_cvtph_ps(_mm_and_si128(_mm_slli_epi16(v, 7), _mm_set1_epi16(int16_t(0xBFFF))));
}

// One row against one activation row. Like the bf16 decode dot (dot_kernels_avx2.cpp), it prefetches one 4 KiB
// page ahead, since one token's matrices are streamed from memory once.
MS_AVX2 float dot_avx2(const uint8_t* row, int64_t K, const float* x) {
  constexpr int64_t kPrefetchBytes = 4096;
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  float tail = 0.0f;
  for (int64_t g0 = 0; g0 < K; g0 += fp8::kGroup) {
    const int64_t g1 = std::min(K, g0 + fp8::kGroup);
    const float scale = fp8::row_scale(row, K, g0 / fp8::kGroup);
    int64_t i = g0;
    if (fast_scale(scale)) {
      const __m256 s = _mm256_set1_ps(scale * kTwo8);
      for (; i + 32 <= g1; i += 32) {
        _mm_prefetch(reinterpret_cast<const char*>(row + i) + kPrefetchBytes, _MM_HINT_T0);
        a0 = _mm256_fmadd_ps(_mm256_mul_ps(widen8(row + i), s), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_mul_ps(widen8(row + i + 8), s), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_mul_ps(widen8(row + i + 16), s), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_mul_ps(widen8(row + i + 24), s), _mm256_loadu_ps(x + i + 24), a3);
      }
      for (; i + 8 <= g1; i += 8) a0 = _mm256_fmadd_ps(_mm256_mul_ps(widen8(row + i), s), _mm256_loadu_ps(x + i), a0);
    }
    for (; i < g1; ++i) tail += fp8::e4m3_to_f32(row[i]) * scale * x[i];
  }
  return hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3))) + tail;
}

// AVX-512: sixteen codes at a time, the same bit manipulation.
MS_AVX512 inline __m512 widen16(const uint8_t* codes) {
  const __m256i v = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes)));
  return _mm512_cvtph_ps(_mm256_and_si256(_mm256_slli_epi16(v, 7), _mm256_set1_epi16(int16_t(0xBFFF))));
}

MS_AVX512 float dot_avx512(const uint8_t* row, int64_t K, const float* x) {
  constexpr int64_t kPrefetchBytes = 4096;
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  float tail = 0.0f;
  for (int64_t g0 = 0; g0 < K; g0 += fp8::kGroup) {
    const int64_t g1 = std::min(K, g0 + fp8::kGroup);
    const float scale = fp8::row_scale(row, K, g0 / fp8::kGroup);
    int64_t i = g0;
    if (fast_scale(scale)) {
      const __m512 s = _mm512_set1_ps(scale * kTwo8);
      for (; i + 64 <= g1; i += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(row + i) + kPrefetchBytes, _MM_HINT_T0);
        a0 = _mm512_fmadd_ps(_mm512_mul_ps(widen16(row + i), s), _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_mul_ps(widen16(row + i + 16), s), _mm512_loadu_ps(x + i + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_mul_ps(widen16(row + i + 32), s), _mm512_loadu_ps(x + i + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_mul_ps(widen16(row + i + 48), s), _mm512_loadu_ps(x + i + 48), a3);
      }
      for (; i + 16 <= g1; i += 16) a0 = _mm512_fmadd_ps(_mm512_mul_ps(widen16(row + i), s), _mm512_loadu_ps(x + i), a0);
    }
    for (; i < g1; ++i) tail += fp8::e4m3_to_f32(row[i]) * scale * x[i];
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))) + tail;
}

MS_AVX512 void decode_row_avx512(const uint8_t* row, int64_t K, float* out) {
  for (int64_t g0 = 0; g0 < K; g0 += fp8::kGroup) {
    const int64_t g1 = std::min(K, g0 + fp8::kGroup);
    const float scale = fp8::row_scale(row, K, g0 / fp8::kGroup);
    int64_t i = g0;
    if (fast_scale(scale)) {
      const __m512 s = _mm512_set1_ps(scale * kTwo8);
      for (; i + 16 <= g1; i += 16) _mm512_storeu_ps(out + i, _mm512_mul_ps(widen16(row + i), s));
    }
    for (; i < g1; ++i) out[i] = fp8::e4m3_to_f32(row[i]) * scale;
  }
}

// The AVX-512 tiles' CPU check (avx512f/bw/vl + f16c); tests turn it off to cover the AVX2 kernels on AVX-512 machines.
bool g_wide = avx512_tile_table() != nullptr;

// Per-thread fp32 scratch for decoded rows and panels, grown once.
float* scratch(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

}  // namespace

bool fp8_avx512() { return g_wide; }
bool set_fp8_avx512(bool on) {
  g_wide = on && avx512_tile_table() != nullptr;
  return g_wide;
}

void decode_fp8_row_simd(const uint8_t* row, int64_t K, float* out) {
  if (g_wide)
    decode_row_avx512(row, K, out);
  else
    decode_fp8_row_avx2(row, K, out);
}

MS_AVX2 void decode_fp8_row_avx2(const uint8_t* row, int64_t K, float* out) {
  for (int64_t g0 = 0; g0 < K; g0 += fp8::kGroup) {
    const int64_t g1 = std::min(K, g0 + fp8::kGroup);
    const float scale = fp8::row_scale(row, K, g0 / fp8::kGroup);
    int64_t i = g0;
    if (fast_scale(scale)) {
      const __m256 s = _mm256_set1_ps(scale * kTwo8);
      for (; i + 8 <= g1; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(widen8(row + i), s));
    }
    for (; i < g1; ++i) out[i] = fp8::e4m3_to_f32(row[i]) * scale;
  }
}

void fp8_rows_scalar(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy) {
  float* row = scratch(size_t(K));
  fp8::dequantize_row(static_cast<const uint8_t*>(w), K, row);
  scalar_table().f32(x, ldx, T, row, K, y, ldy);
}

void fp8_rows_avx2(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy) {
  const auto* row = static_cast<const uint8_t*>(w);
  if (T > 1) {  // several tokens: decode once, then the fp32 row dots
    float* dec = scratch(size_t(K));
    decode_fp8_row_simd(row, K, dec);
    avx2_table()->f32(x, ldx, T, dec, K, y, ldy);
    return;
  }
  y[0] = g_wide ? dot_avx512(row, K, x) : dot_avx2(row, K, x);
}

// 1 MiB of fp32 rows (8 to 256). OLMoE shapes, 128-token prefill, CPU seconds: 8 rows 0.87-0.90, 64 KiB 0.83-0.85,
// 128 KiB 0.70, 512 KiB 0.60-0.62, 1 MiB 0.56-0.61, 2-4 MiB 0.54-0.61 (Zen 4, 2 threads).
int panel_rows(int64_t K) { return int(std::clamp<int64_t>((262144 / std::max<int64_t>(K, 1)) & ~int64_t(7), 8, 256)); }

void fp8_tiles(TileRowsFn f32_tiles, const float* x, int64_t ldx, int T, const void* w, int64_t K, int R, float* y,
               int64_t ldy) {
  const auto* rows = static_cast<const uint8_t*>(w);
  const size_t rb = fp8::row_bytes(K);
  const int P = std::min(R, panel_rows(K));
  float* panel = scratch(size_t(P) * size_t(K));
  for (int r0 = 0; r0 < R; r0 += P) {
    const int n = std::min(P, R - r0);
    for (int i = 0; i < n; ++i) {
      const uint8_t* row = rows + size_t(r0 + i) * rb;
      float* out = panel + size_t(i) * size_t(K);
      if (avx2_table())
        decode_fp8_row_simd(row, K, out);
      else
        fp8::dequantize_row(row, K, out);
    }
    f32_tiles(x, ldx, T, panel, K, n, y + r0, ldy);
  }
}

}  // namespace moescope::cpu::detail
