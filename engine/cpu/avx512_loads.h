// Internal: AVX-512 loads that widen 16 weights of each storage type to fp32, shared by the AVX-512
// batch kernels (tile_kernels_avx512.cpp, tile_kernels_avx512_broadcast.cpp). Include only from files
// whose functions carry MS_AVX512 (the rest of the build does not assume AVX-512).
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "engine/util/half.h"

#define MS_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

namespace moescope::cpu::detail::avx512 {

struct LoadF32 {
  using T = float;
  MS_AVX512 static __m512 load16(const T* w) { return _mm512_loadu_ps(w); }
  static float load1(const T* w) { return *w; }
};
struct LoadBF16 {
  using T = uint16_t;
  MS_AVX512 static __m512 load16(const T* w) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static float load1(const T* w) { return bf16_to_f32(*w); }
};
struct LoadF16 {
  using T = uint16_t;
  MS_AVX512 static __m512 load16(const T* w) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)));
  }
  static float load1(const T* w) { return fp16_to_f32(*w); }
};

}  // namespace moescope::cpu::detail::avx512
