// Drift across layers and time (see drift.h, docs/metrics.md).
#include "probes/metrics/drift.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "probes/metrics/distributions.h"
#include "probes/metrics/load.h"

namespace moescope::metrics {

std::vector<int64_t> transition_matrix(const RunData& run, int l, bool top1_only) {
  const int E = run.num_experts;
  std::vector<int64_t> m(size_t(std::max(E, 0)) * size_t(std::max(E, 0)), 0);
  if (l < 0 || l + 1 >= run.num_moe_layers()) return m;
  const int k = top1_only ? std::min(1, run.k_max) : run.k_max;
  for (int t = 0; t < run.num_tokens(); ++t) {
    if (run.dropped_at(t, l) || run.dropped_at(t, l + 1)) continue;
    const int32_t* a = run.experts_at(t, l);
    const int32_t* b = run.experts_at(t, l + 1);
    for (int i = 0; i < k; ++i) {
      if (a[i] < 0 || a[i] >= E) continue;
      for (int j = 0; j < k; ++j)
        if (b[j] >= 0 && b[j] < E) ++m[size_t(a[i]) * E + size_t(b[j])];
    }
  }
  return m;
}

double conditional_entropy(const std::vector<int64_t>& joint, int E) {
  int64_t total = 0;
  for (int64_t c : joint) total += c;
  if (total == 0) return 0.0;
  double h = 0.0;
  for (int a = 0; a < E; ++a) {
    int64_t row = 0;
    for (int b = 0; b < E; ++b) row += joint[size_t(a) * E + b];
    for (int b = 0; b < E; ++b) {
      const int64_t c = joint[size_t(a) * E + b];
      if (c > 0) h -= double(c) / double(total) * std::log(double(c) / double(row));
    }
  }
  return h;
}

std::vector<LayerTransition> layer_transitions(const RunData& run, bool top1_only) {
  std::vector<LayerTransition> out;
  for (int l = 0; l + 1 < run.num_moe_layers(); ++l) {
    LayerTransition t;
    t.from_moe_layer = l;
    t.counts = transition_matrix(run, l, top1_only);
    t.conditional_entropy = conditional_entropy(t.counts, run.num_experts);
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<std::vector<double>> window_drift(const RunData& run, int window) {
  std::vector<std::vector<double>> out(size_t(run.num_moe_layers()));
  if (window <= 0) return out;
  const int windows = run.num_tokens() / window;
  for (int l = 0; l < run.num_moe_layers(); ++l) {
    std::vector<double> prev;
    for (int w = 0; w < windows; ++w) {
      LoadOptions opt;
      opt.begin = w * window;
      opt.end = (w + 1) * window;
      std::vector<double> cur = normalise(expert_counts(run, l, opt));
      if (w > 0) out[size_t(l)].push_back(js_divergence(prev, cur));
      prev = std::move(cur);
    }
  }
  return out;
}

TokenConsistency token_consistency(const RunData& run, int l) {
  // id -> (expert -> count)
  std::unordered_map<int64_t, std::unordered_map<int32_t, int64_t>> by_id;
  for (int t = 0; t < run.num_tokens(); ++t) {
    if (run.dropped_at(t, l) || run.k_max < 1) continue;
    const int32_t e = run.experts_at(t, l)[0];
    if (e < 0) continue;
    ++by_id[run.token_ids[size_t(t)]][e];
  }
  TokenConsistency c;
  int64_t modal_sum = 0;
  double share_sum = 0.0;
  for (const auto& [id, experts] : by_id) {
    int64_t n = 0, best = 0;
    for (const auto& [e, cnt] : experts) {
      n += cnt;
      best = std::max(best, cnt);
    }
    if (n < 2) continue;
    ++c.token_ids;
    c.occurrences += n;
    modal_sum += best;
    share_sum += double(best) / double(n);
  }
  if (c.token_ids > 0) {
    c.weighted = double(modal_sum) / double(c.occurrences);
    c.mean_over_ids = share_sum / double(c.token_ids);
  }
  return c;
}

}  // namespace moescope::metrics
