// Capacity gap (see capacity.h, docs/metrics.md).
#include "probes/metrics/capacity.h"

#include <algorithm>
#include <cmath>

namespace moescope::metrics {

int capacity_for(double cf, int tokens, int k, int num_experts) {
  if (num_experts <= 0) return 0;
  // A relative epsilon keeps e.g. 1.25 * 8 * 2 / 4 = 5 from becoming 6 through rounding.
  const double exact = cf * double(tokens) * double(k) / double(num_experts);
  return int(std::ceil(exact - 1e-9 * std::max(1.0, exact)));
}

CapacityGap capacity_gap(const RunData& run, int moe_layer, const CapacityOptions& opt) {
  CapacityGap g;
  const int E = run.num_experts, K = run.k_max;
  const int begin = std::max(opt.begin, 0);
  const int end = opt.end < 0 ? run.num_tokens() : std::min(opt.end, run.num_tokens());
  g.capacity_factor = opt.capacity_factor;
  g.tokens = std::max(end - begin, 0);
  g.k = opt.k > 0 ? opt.k : K;
  g.capacity = capacity_for(opt.capacity_factor, g.tokens, g.k, E);
  g.demand.assign(size_t(std::max(E, 0)), 0);
  g.overflow.assign(size_t(std::max(E, 0)), 0);
  if (g.tokens == 0 || E <= 0) return g;

  std::vector<int64_t> filled(size_t(E), 0);
  std::vector<int> kept(size_t(g.tokens), 0), lost(size_t(g.tokens), 0);
  auto assign = [&](int t, int j) {
    const int32_t e = run.experts_at(t, moe_layer)[j];
    if (e < 0 || e >= E) return;
    ++g.demand[size_t(e)];
    if (filled[size_t(e)] < g.capacity) {
      ++filled[size_t(e)];
      ++kept[size_t(t - begin)];
    } else {
      ++g.overflow[size_t(e)];
      ++lost[size_t(t - begin)];
    }
  };
  if (opt.order == ArrivalOrder::TokenMajor) {
    for (int t = begin; t < end; ++t)
      for (int j = 0; j < K; ++j) assign(t, j);
  } else {
    for (int j = 0; j < K; ++j)
      for (int t = begin; t < end; ++t) assign(t, j);
  }
  for (int64_t d : g.demand) g.assignments += d;
  for (int64_t o : g.overflow) g.dropped_assignments += o;
  for (int i = 0; i < g.tokens; ++i) {
    if (lost[size_t(i)] == 0) continue;
    ++g.tokens_with_drop;
    if (kept[size_t(i)] == 0) ++g.tokens_fully_dropped;
    g.dropped_positions.push_back(begin + i);
  }
  g.dropped_token_fraction = double(g.tokens_with_drop) / double(g.tokens);
  return g;
}

}  // namespace moescope::metrics
