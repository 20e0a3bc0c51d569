// Side-by-side comparison of runs of one model on one prompt under different routing strategies
// (`moescope compare`): routing agreement per MoE layer, load divergence, dropped tokens, and the
// effect on the output (KL per position, top-1 token agreement, perplexity, first divergence).
// Definitions are in docs/strategies.md ("Comparison metrics"); computed from RunData only.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "probes/run_data.h"

namespace moescope {

// One run's own numbers.
struct RunComparisonSummary {
  std::string name, strategy;
  int tokens = 0;             // N
  int prompt_length = 0;      // tokens marked is_prompt
  double perplexity = 0.0;    // of its own continuation (see scored_range); NaN without logits
  int scored_tokens = 0;      // tokens the perplexity averages over
  double dropped_fraction = 0.0;     // mean of dropped over [N, M]
  std::vector<double> layer_dropped; // [M]
  std::vector<double> load;          // [M, E] share of expert assignments (rows sum to 1, or 0 when none)
};

// Run A against run B over their first `positions` common positions.
struct PairComparison {
  int a = 0, b = 0;           // indices into ComparisonResult::runs
  int positions = 0;          // n = min(N_a, N_b)
  int first_divergence = -1;  // first position whose token differs (n when one run is longer); -1 none
  // routing, per position and MoE layer
  std::vector<float> jaccard;             // [n, M] |S_a ∩ S_b| / |S_a ∪ S_b| (1 when both empty)
  std::vector<uint8_t> top1_expert_agree; // [n, M] same highest-ranked expert actually used
  std::vector<double> layer_jaccard, layer_top1_expert_agreement, layer_load_js;  // [M] (JS in nats)
  std::vector<double> layer_dropped_a, layer_dropped_b;                           // [M] over the n positions
  double jaccard_mean = 0, top1_expert_agreement = 0, load_js_mean = 0, dropped_a = 0, dropped_b = 0;
  // output (both runs recorded next-token logits)
  bool has_logits = false;
  std::vector<double> kl;                 // [n] KL(P_a || P_b) of the next-token distributions, nats
  std::vector<uint8_t> top1_token_agree;  // [n] same argmax next token
  double kl_mean = 0, kl_max = 0, top1_token_agreement = 0;
};

struct ComparisonResult {
  bool teacher_forced = false;
  int num_moe_layers = 0, num_experts = 0;
  std::vector<int32_t> moe_layers;
  std::vector<RunComparisonSummary> runs;
  std::vector<PairComparison> pairs;  // every (i, j), i < j
};

// Runs must share the model (same M and E); Error otherwise.
ComparisonResult compare_runs(const std::vector<const RunData*>& runs, bool teacher_forced);

// Load divergence: Jensen-Shannon divergence in nats (in [0, ln 2], as metrics::js_divergence) of two
// non-negative count vectors, each normalised to sum 1; 0 when both are all zero, ln 2 when exactly one is.
double load_divergence(const std::vector<double>& p, const std::vector<double>& q);

// Tokens [first, last) whose probability a run's perplexity averages: its continuation
// [max(1, prompt_length), N), or [1, N) when nothing was generated.
void scored_range(int tokens, int prompt_length, int& first, int& last);

// Writing: comparison_h5.h (HDF5 /comparison group), comparison_json.h (the --json summary).

}  // namespace moescope
