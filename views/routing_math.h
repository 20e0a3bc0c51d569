// Qt-free arithmetic the views share: router probabilities per model family, top-1 experts, expert
// load counts and the capacity line C = CF * T * k / E. Kept apart from widgets so tests can check it
// against hand computations.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "probes/run_data.h"

namespace moescope::views {

// How a family turns router logits into the probabilities the heatmap shows.
enum class ScoreKind {
  Softmax,  // softmax over all experts (Mixtral, OLMoE, Qwen2/3-MoE, DeepSeek-V2, ERNIE 4.5; GPT-OSS shown the
            // same way)
  Sigmoid,  // independent sigmoid per expert (DeepSeek-V3, GLM-4.5)
};
ScoreKind score_kind_for_family(const std::string& family);
const char* score_kind_label(ScoreKind kind);  // "softmax" / "sigmoid"

// Router probabilities of one token at one MoE layer, written to out[0..E).
void router_probabilities(const RunData& run, int token, int moe_layer, float* out);
std::vector<float> router_probabilities(const RunData& run, int token, int moe_layer);

// The expert the router ranked first for a token at a layer; -1 when none (dropped / padded).
int top1_expert(const RunData& run, int token, int moe_layer);
bool is_chosen(const RunData& run, int token, int moe_layer, int expert);
// Weight applied to `expert` for the token at the layer, 0 when not chosen.
float chosen_weight(const RunData& run, int token, int moe_layer, int expert);

// Top of the heatmap colour scale for probabilities whose maximum is `max_value`: rounded up to the
// next multiple of 0.1 (at least 0.1, at most 1), so a diffuse router still shows contrast and the
// colour bar reads in round numbers.
double colour_scale_max(double max_value);

// k used by the capacity formula: config.json num_experts_per_tok when the run carries it, else K.
int experts_per_token(const RunData& run);
// DeepSeek's selection and weight details from the run's config.json, e.g. "chosen within the best 3 of 8
// expert groups; weights × 16" (UTF-8); empty for other families and when there is nothing to add.
std::string group_limit_note(const RunData& run);

// Tokens routed to each expert per MoE layer ([M][E], row-major), counting every selected slot.
struct LoadTable {
  int layers = 0;
  int experts = 0;
  int tokens = 0;                  // T: tokens of the run
  std::vector<int64_t> counts;     // [M * E]
  int64_t at(int layer, int expert) const { return counts[size_t(layer) * experts + expert]; }
  int64_t layer_total(int layer) const;
  int64_t expert_total(int expert) const;  // summed over layers (session totals)
};
LoadTable expert_load(const RunData& run);
// Capacity per expert: CF * T * k / E (the Switch/GShard definition, not rounded).
double expert_capacity(double capacity_factor, int tokens, int k, int experts);
// Tokens over capacity at a layer: sum over experts of max(0, load - C).
double overflow_at_layer(const LoadTable& load, int layer, double capacity);

}  // namespace moescope::views
