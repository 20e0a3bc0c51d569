// The per-family router rule (how logits become expert scores, a selection and weights), written as
// plain per-token functions that take any k and an optional expert mask. Strategies other than the
// exact `native` (topk, topp, mask, expert-choice, random weights) are built from these, so that
// "the family's scoring with another k" means the same thing everywhere (docs/strategies.md).
#pragma once
#include <cstdint>
#include <vector>

namespace moescope {

struct ModelConfig;

// Per-layer scratch for the family rule: scores of one token, plus the DeepSeek correction bias.
struct FamilyRow {
  const ModelConfig* config = nullptr;
  int num_experts = 0;
  const float* bias = nullptr;        // [E] e_score_correction_bias (DeepSeek-V3, GLM, ERNIE), or null
  const uint8_t* disabled = nullptr;  // [E] 1 = masked expert (never chosen), or null
};

// Whether the family renormalises the k selected weights (Mixtral always; others per norm_topk_prob).
bool family_renormalises(const ModelConfig& config);

// Route one token with the family's scoring and `k` experts. Writes up to k experts in router rank
// order (padding -1 / 0.0 when fewer than k experts are eligible); returns how many were chosen.
int family_topk(const FamilyRow& row, const float* logits, int k, int32_t* experts, float* weights);

// The family's probability of each expert for one token, over the experts not masked:
// softmax of the logits for softmax-scored families (Mixtral, OLMoE, Qwen, GPT-OSS; DeepSeek-V2: over the
// experts of the kept groups, renormalised); for sigmoid families (DeepSeek-V3) the sigmoid scores of the
// experts left after group limiting, normalised to sum 1. Masked (and group-excluded) experts get 0. `rank` receives the experts in router rank order
// (eligible ones only); returns their count.
int family_probabilities(const FamilyRow& row, const float* logits, float* probs, std::vector<int32_t>& rank);

// The weight scale the family applies after normalisation (DeepSeek routed_scaling_factor, else 1).
float family_weight_scale(const ModelConfig& config);

// Sort helper: experts by descending key, ties toward the lower expert id (as a stable top-k would).
void rank_by_key(const float* key, int n, std::vector<int32_t>& order);

}  // namespace moescope

namespace moescope {
// Softmax of the logits over the experts not masked (masked experts get 0), in fp32 like torch.
void masked_softmax(const float* logits, int n, const uint8_t* disabled, float* out);
}  // namespace moescope
