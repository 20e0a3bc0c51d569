// Routing drift across layers (expert -> expert transitions between consecutive MoE layers) and across
// time steps (load divergence between successive windows; token-id consistency). Formulas in
// docs/metrics.md ("Drift").
#pragma once
#include <cstdint>
#include <vector>

#include "probes/run_data.h"

namespace moescope::metrics {

// Count matrix [E, E] row-major: entry (a, b) counts tokens with expert a at MoE layer l and expert b
// at MoE layer l+1. top1_only: first-ranked experts only (one pair per token); otherwise every pair of
// the two selections (up to K*K pairs per token). Tokens dropped at either layer are skipped.
std::vector<int64_t> transition_matrix(const RunData& run, int moe_layer, bool top1_only);

// H(B | A) in nats for a joint count matrix [E, E] (rows = A): -sum p(a,b) ln(p(a,b) / p(a)).
double conditional_entropy(const std::vector<int64_t>& joint, int num_experts);

struct LayerTransition {
  int from_moe_layer = 0;
  std::vector<int64_t> counts;   // [E, E]
  double conditional_entropy = 0;  // H(e_{l+1} | e_l), nats
};
// One entry per consecutive pair of MoE layers (M-1 entries).
std::vector<LayerTransition> layer_transitions(const RunData& run, bool top1_only);

// Per layer: JS divergence (nats) between the load (all-k selection fractions) of window w and window
// w+1, windows of `window` consecutive tokens from position 0; a trailing partial window is ignored.
std::vector<std::vector<double>> window_drift(const RunData& run, int window);

struct TokenConsistency {
  int token_ids = 0;            // distinct ids occurring >= 2 times
  int64_t occurrences = 0;      // their occurrences in total
  double weighted = 0;          // sum over ids of (count of the id's modal top-1 expert) / occurrences
  double mean_over_ids = 0;     // unweighted mean over ids of the per-id share
};
// OpenMoE context-independent specialisation at one layer: how often a token id goes to its most
// frequent top-1 expert, over ids occurring at least twice (dropped tokens are skipped).
TokenConsistency token_consistency(const RunData& run, int moe_layer);

}  // namespace moescope::metrics
