// Drift chart data (see drift_series.h).
#include "views/drift_series.h"

#include <algorithm>

#include "probes/metrics/load.h"

namespace moescope::views {

std::vector<double> row_normalise(const std::vector<int64_t>& counts, int n) {
  std::vector<double> out(size_t(n) * size_t(n), 0.0);
  for (int r = 0; r < n; ++r) {
    int64_t sum = 0;
    for (int c = 0; c < n; ++c) sum += counts[size_t(r) * n + c];
    if (sum == 0) continue;
    for (int c = 0; c < n; ++c) out[size_t(r) * n + c] = double(counts[size_t(r) * n + c]) / double(sum);
  }
  return out;
}

std::vector<std::vector<double>> windowed_load(const RunData& run, int moe_layer, int window) {
  window = std::max(1, window);
  std::vector<std::vector<double>> out;
  for (int begin = 0; begin < run.num_tokens(); begin += window) {
    metrics::LoadOptions opt;
    opt.begin = begin;
    opt.end = std::min(run.num_tokens(), begin + window);
    const std::vector<int64_t> c = metrics::expert_counts(run, moe_layer, opt);
    int64_t sum = 0;
    for (int64_t v : c) sum += v;
    std::vector<double> f(c.size(), 0.0);
    for (size_t e = 0; e < c.size(); ++e) f[e] = sum > 0 ? double(c[e]) / double(sum) : 0.0;
    out.push_back(std::move(f));
  }
  return out;
}

int window_for(int tokens, int target) {
  if (target <= 0) return std::max(1, tokens);
  return std::max(1, (tokens + target - 1) / target);
}

}  // namespace moescope::views
