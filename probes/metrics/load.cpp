// Expert load per layer (see load.h, docs/metrics.md).
#include "probes/metrics/load.h"

#include <algorithm>
#include <cmath>

#include "probes/metrics/distributions.h"

namespace moescope::metrics {

LoadStats load_stats(const std::vector<int64_t>& counts) {
  LoadStats s;
  s.counts = counts;
  s.fractions = normalise(counts);
  for (int64_t c : counts) s.total += c;
  const size_t E = counts.size();
  if (E == 0 || s.total == 0) return s;
  s.entropy_nats = entropy(s.fractions);
  s.entropy_normalised = E > 1 ? s.entropy_nats / std::log(double(E)) : 0.0;
  const double mean = double(s.total) / double(E);
  s.max_over_mean = double(*std::max_element(counts.begin(), counts.end())) / mean;
  double var = 0.0;
  for (int64_t c : counts) var += (double(c) - mean) * (double(c) - mean);
  s.cv = std::sqrt(var / double(E)) / mean;
  return s;
}

std::vector<int64_t> expert_counts(const RunData& run, int moe_layer, const LoadOptions& opt) {
  std::vector<int64_t> counts(size_t(std::max(run.num_experts, 0)), 0);
  const int n = run.num_tokens();
  const int end = opt.end < 0 ? n : std::min(opt.end, n);
  const int k = opt.top1_only ? std::min(1, run.k_max) : run.k_max;
  for (int t = std::max(opt.begin, 0); t < end; ++t) {
    if (!opt.include_dropped && run.dropped_at(t, moe_layer)) continue;
    const int32_t* ex = run.experts_at(t, moe_layer);
    for (int j = 0; j < k; ++j)
      if (ex[j] >= 0 && ex[j] < run.num_experts) ++counts[size_t(ex[j])];
  }
  return counts;
}

std::vector<LoadStats> expert_load(const RunData& run, const LoadOptions& opt) {
  std::vector<LoadStats> out;
  for (int l = 0; l < run.num_moe_layers(); ++l) out.push_back(load_stats(expert_counts(run, l, opt)));
  return out;
}

}  // namespace moescope::metrics
