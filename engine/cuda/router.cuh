// Native routing on the device (each family's rule, as route_native computes it on the host) and the
// per-expert token lists the expert kernels read. Host-includable; kernels in router.cu.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope {
struct ModelConfig;
}

namespace moescope::cuda {

enum class DeviceScoring : int { SoftmaxTopK = 0, SigmoidGroupTopK = 1, TopKSoftmax = 2, SoftmaxGroupTopK = 3 };

// Largest n_group the device rule supports (DeepSeek-V3 uses 8).
constexpr int kMaxRouterGroups = 64;

struct RouterParams {
  DeviceScoring scoring = DeviceScoring::SoftmaxTopK;
  int num_experts = 0;
  int k = 0;
  bool renormalise = false;          // softmax families: renormalise the k weights (by max(sum, norm_min))
  float norm_min = 0.0f;             // ERNIE moe_norm_min
  int n_group = 1, topk_group = 1;   // group-limited families (DeepSeek-V2 group_limited_greedy, V3)
  bool norm_topk_prob = false;       // sigmoid family: weights / (sum + 1e-20)
  float routed_scaling_factor = 1.0f;
  const float* correction_bias = nullptr;  // [E] device, or null (DeepSeek-V3/GLM: sigmoid + bias; ERNIE: p + bias)
};

// The parameters of a model's own router rule (correction_bias left null).
RouterParams native_router_params(const ModelConfig& c, int num_experts, int k);

// logits [T, E] -> experts [T, k] (router rank order, ties to the lower index) and weights [T, k].
// scratch: at least T * 2E floats.
void launch_route_native(const float* logits, int T, const RouterParams& p, int32_t* experts, float* weights,
                         float* scratch, cudaStream_t s);

// Expert lists of a decision: experts [T, k] (-1 = none), dropped [T] (null = none dropped).
// A (token, expert) pair counts once even if the expert appears twice in a row. Pairs are numbered
// expert by expert, tokens ascending: offsets [E+1] delimit each expert's pairs, pair_tok [T*k] gives
// each pair's token, slot_pair [T*k] maps each decision slot to its pair (-1: none), active [E] lists the
// experts with pairs (ascending) and n_active [1] counts them. counts: scratch [E].
void launch_build_expert_lists(const int32_t* experts, const uint8_t* dropped, int T, int k, int E, int32_t* counts,
                               int32_t* offsets, int32_t* active, int32_t* n_active, int32_t* pair_tok,
                               int32_t* slot_pair, cudaStream_t s);

}  // namespace moescope::cuda
