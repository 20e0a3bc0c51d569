// CPU compute kernels of the reference backend. Activations are fp32; weights stay in their stored
// dtype (F32, BF16, F16) and are widened inside the dot products. An AVX2/FMA/F16C path is chosen at
// run time (kernels_avx2.cpp); the scalar path is the readable reference and the fallback.
#pragma once
#include <cstdint>

#include "engine/model/tensor.h"

namespace moescope {
class ThreadPool;
}

namespace moescope::cpu {

// True when the AVX2/FMA/F16C kernels are in use (false: scalar, or forced off for tests).
bool simd_enabled();
// Tests compare both paths; not for use while other threads run kernels.
void set_simd_enabled(bool on);

// Throws Error unless W is a 2-D F32/BF16/F16 tensor with `cols` columns (names W in the message).
void check_matrix(const TensorRef& W, int64_t rows, int64_t cols);

// Row `row` of W widened to fp32 (embedding lookup).
void widen_row(const TensorRef& W, int64_t row, float* out);

// y[t, n] = sum_k x[t, k] * W[n, k] (+ bias[n]) for t < T, n < N (y = x W^T, as torch.nn.Linear).
// x rows have stride ldx, y rows stride ldy. Parallel over output rows.
void linear(ThreadPool& pool, const float* x, int64_t ldx, int T, const TensorRef& W, const TensorRef* bias,
            float* y, int64_t ldy);

// Several linears over the same input in one parallel pass (q/k/v, gate/up): one thread sync.
struct LinearJob {
  const TensorRef* W = nullptr;
  const TensorRef* bias = nullptr;  // may be null or invalid
  float* y = nullptr;
  int64_t ldy = 0;
};
void linear_multi(ThreadPool& pool, const float* x, int64_t ldx, int T, const LinearJob* jobs, int njobs);

// y = x * rsqrt(mean(x^2) + eps) * w over n values (w may be invalid: no scale). In place is allowed.
void rmsnorm(const float* x, const TensorRef& w, int64_t n, float eps, float* y);
// y = (x - mean) / sqrt(var + eps) * w + b over n values (biased variance; w or b may be invalid: no scale /
// no shift), as torch.nn.LayerNorm. In place is allowed.
void layernorm(const float* x, const TensorRef& w, const TensorRef& b, int64_t n, float eps, float* y);

// Numerically stable softmax in place.
void softmax(float* x, int n);

inline float silu(float x) { return x / (1.0f + __builtin_expf(-x)); }
inline float sigmoid(float x) { return 1.0f / (1.0f + __builtin_expf(-x)); }

// RoPE on one head vector of `dim` values, using cos/sin of dim/2 frequencies.
// rotate-half layout: pairs (i, i + dim/2).
void rope_rotate_half(float* v, int dim, const float* cos, const float* sin);
// Interleaved layout (DeepSeek rope_interleave): pairs (2i, 2i+1); like Hugging Face the result is
// left de-interleaved (evens then odds), which is harmless because q and k get the same layout.
void rope_interleaved(float* v, int dim, const float* cos, const float* sin, float* tmp);

// Dot product of fp32 x with row `row` of W (widened). Exposed for tests.
float dot_row(const float* x, const TensorRef& W, int64_t row);

}  // namespace moescope::cpu
