// Small fp32 vector primitives for the attention inner loops (q.k over the cached keys), with an
// AVX2/FMA path when cpu::simd_enabled() and the plain loop otherwise (the readable reference).
#pragma once
#include <cstdint>

namespace moescope::cpu {

// sum_i a[i] * b[i]
float dot_f32(const float* a, const float* b, int64_t n);

}  // namespace moescope::cpu
