// Expert feed-forward on the device: gate+up with the activation fused for every active expert in one
// launch, down for every active expert in one launch, and the weighted sum of a token's experts (plus
// the shared expert) added to the residual in one kernel. Also the dense SwiGLU activation.
// Host-includable; kernels in expert_ffn.cu.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "engine/cuda/device_matrix.h"

namespace moescope::cuda {

// Device tables with one entry per expert of a MoE layer (all experts share dtype and shape).
struct ExpertTable {
  const void* const* gate = nullptr;  // [E] -> [I, H]
  const void* const* up = nullptr;    // [E] -> [I, H]
  const void* const* down = nullptr;  // [E] -> [H, I]
  const float* const* gate_bias = nullptr;  // [E] -> [I] or null table (GPT-OSS only)
  const float* const* up_bias = nullptr;
  const float* const* down_bias = nullptr;
  WType type = WType::F32;
  int inter = 0;   // I
  int hidden = 0;  // H
};

// Lists from launch_build_expert_lists.
struct ExpertLists {
  const int32_t* offsets = nullptr;
  const int32_t* active = nullptr;
  const int32_t* n_active = nullptr;
  const int32_t* pair_tok = nullptr;
  const int32_t* slot_pair = nullptr;
};

// act[p, i] = act(gate_e x_tok, up_e x_tok) for every pair p. max_active: an upper bound on the active
// experts (grid size), max_pairs_per_expert: on one expert's pairs (T).
void launch_expert_gate_up(const float* xn, const ExpertLists& lists, const ExpertTable& tab, int max_active,
                           int max_pairs_per_expert, float swiglu_limit, float* act, cudaStream_t s);
// out_pair[p, h] = down_e act[p].
void launch_expert_down(const float* act, const ExpertLists& lists, const ExpertTable& tab, int max_active,
                        int max_pairs_per_expert, float* out_pair, cudaStream_t s);
// x[t, :] += sum_j w[t, j] out_pair[slot_pair[t, j], :] + g_t * shared_out[t, :], with
// g_t = sigmoid(shared_gate_logit[t]) (1 when null); shared_out may be null.
void launch_moe_combine(float* x, int T, int k, int H, const float* out_pair, const int32_t* slot_pair, const float* w,
                        const float* shared_out, const float* shared_gate_logit, cudaStream_t s);
// Decode (one token) fused form of down + combine: x[:] += sum_j w[j] down_{experts[j]} act[slot_pair[j]]
// + g * shared_out, one pass over each chosen expert's down rows, no out_pair round trip.
void launch_expert_down_combine_1(float* x, const float* act, const int32_t* experts, const int32_t* slot_pair,
                                  const float* w, int k, const ExpertTable& tab, const float* shared_out,
                                  const float* shared_gate_logit, cudaStream_t s);
// g[i] = silu(g[i]) * u[i], or GPT-OSS clamped SwiGLU when swiglu_limit > 0.
void launch_swiglu(float* g, const float* u, size_t n, float swiglu_limit, cudaStream_t s);

}  // namespace moescope::cuda
