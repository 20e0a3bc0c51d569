// Expert load per MoE layer: how many selections each expert received and how even that is.
// Formulas in docs/metrics.md ("Expert load").
#pragma once
#include <cstdint>
#include <vector>

#include "probes/run_data.h"

namespace moescope::metrics {

struct LoadStats {
  std::vector<int64_t> counts;     // [E] selections per expert
  std::vector<double> fractions;   // [E] counts / total
  int64_t total = 0;               // sum of counts
  double entropy_nats = 0;         // -sum f ln f
  double entropy_normalised = 0;   // entropy / ln E (1 = perfectly even; 0 when E <= 1)
  double max_over_mean = 0;        // max count / mean count (1 = even; E = all on one expert)
  double cv = 0;                   // population std / mean of the counts
};

// Statistics of given per-expert counts.
LoadStats load_stats(const std::vector<int64_t>& counts);

struct LoadOptions {
  bool top1_only = false;   // count only each token's first-ranked expert
  int begin = 0;            // token range [begin, end); end < 0 = all tokens
  int end = -1;
  bool include_dropped = false;  // count selections of tokens marked dropped at that layer
};

// Per-expert selection counts at one MoE layer (experts < 0, i.e. padding, are skipped).
std::vector<int64_t> expert_counts(const RunData& run, int moe_layer, const LoadOptions& opt = {});
// load_stats for every MoE layer.
std::vector<LoadStats> expert_load(const RunData& run, const LoadOptions& opt = {});

}  // namespace moescope::metrics
