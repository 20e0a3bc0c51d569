// Phi-3.5-MoE's router rule (transformers' sparsemixer in eval mode), shared by route_native and the family
// rule that the other strategies use, so "sparsemixer with another k" is the same rule repeated.
#pragma once
#include <cstdint>

namespace moescope {

// One token: `k` rounds, each over the experts not yet chosen and not `disabled`: the best logit m (ties toward
// the lower index) is chosen; the logits s_j with (m - s_j) / max(|s_j|, m) > 2 * jitter stay out of a softmax
// over the rest (chosen and disabled experts always out); its weight is its probability in that softmax.
// transformers runs two rounds (its sparsemixer hard-codes them). Writes experts/weights in round order,
// padding -1 / 0 when fewer than k experts are eligible; returns how many were chosen. fp32, as torch.
int sparsemixer_route(const float* logits, int num_experts, int k, float jitter, const uint8_t* disabled, int32_t* experts,
                      float* weights);

}  // namespace moescope
