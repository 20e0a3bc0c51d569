// Internal: the horizontal sum of eight floats shared by the fused decode-dot kernels of packed weights
// (mxfp4_kernels.cpp, fp8_kernels.cpp). Include only from files whose functions carry MS_AVX2.
#pragma once
#include <immintrin.h>

#define MS_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace moescope::cpu::detail {

// (v0 + v4) + (v2 + v6) + ((v1 + v5) + (v3 + v7)), always in this order.
MS_AVX2 inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace moescope::cpu::detail
