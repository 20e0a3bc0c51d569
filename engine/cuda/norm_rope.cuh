// Norms, rotary embedding and the small per-element kernels around them (embedding lookup, clip, the
// multipliers of Granite).
// Host-includable launchers; kernels in norm_rope.cu mirror engine/cpu/kernels.cpp.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "engine/cuda/device_matrix.h"

namespace moescope::cuda {

// y[r, :n] = x[r, :n] * rsqrt(mean(x^2) + eps) * w (w null: no scale); in place allowed.
void launch_rmsnorm(const float* x, int64_t ldx, int rows, int n, const float* w, float eps, float* y, int64_t ldy,
                    cudaStream_t s);
// RoPE on `heads` vectors per token: vector (t, h) starts at v + t*ld_token + h*head_stride + offset and
// its first rot_dim values are rotated with position pos0 + t. cos/sin: [ctx, rot_dim/2].
// pos_dev: when not null, pos0 is read from the device (CUDA-graph replays of a decode step).
// interleaved: DeepSeek layout (pairs (2i, 2i+1), result left de-interleaved like transformers).
void launch_rope(float* v, int64_t ld_token, int T, int heads, int head_stride, int offset, int rot_dim, int pos0,
                 const float* cos, const float* sin, bool interleaved, cudaStream_t s, const int* pos_dev = nullptr);
// v[i] = clamp(v[i], -lim, lim) (OLMoE clip_qkv).
void launch_clamp(float* v, size_t n, float lim, cudaStream_t s);
// v[i] *= m (Granite's embedding_multiplier).
void launch_scale(float* v, size_t n, float m, cudaStream_t s);
// v[i] /= d (Granite's logits_scaling: a division, as transformers writes it).
void launch_divide(float* v, size_t n, float d, cudaStream_t s);
// x[i] += y[i] * m, the product rounded before the sum as on the CPU (Granite's residual_multiplier).
void launch_add_scaled(float* x, const float* y, size_t n, float m, cudaStream_t s);
// x[t, :] = float(E[tokens[t], :]).
void launch_embed(const DMat& E, const int32_t* tokens, int T, float* x, cudaStream_t s);

}  // namespace moescope::cuda
