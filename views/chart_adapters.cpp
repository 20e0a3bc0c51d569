// Chart adapters (see chart_adapters.h).
#include "views/chart_adapters.h"

#include <algorithm>

namespace moescope::views {

double StackedBars::max_total() const {
  double m = 0;
  for (size_t i = 0; i < base.size(); ++i) m = std::max(m, base[i] + (i < top.size() ? top[i] : 0.0));
  return m;
}

StackedBars load_bars(const LoadTable& load, int moe_layer, double capacity) {
  StackedBars b;
  if (moe_layer < 0 || moe_layer >= load.layers) return b;
  for (int e = 0; e < load.experts; ++e) {
    const double v = double(load.at(moe_layer, e));
    b.base.push_back(std::min(v, capacity));
    b.top.push_back(std::max(0.0, v - capacity));
  }
  return b;
}

StackedBars probability_bars(const RunData& run, int token, int moe_layer) {
  StackedBars b;
  if (token < 0 || token >= run.num_tokens() || moe_layer < 0 || moe_layer >= run.num_moe_layers()) return b;
  const auto p = router_probabilities(run, token, moe_layer);
  for (int e = 0; e < run.num_experts; ++e) {
    const bool chosen = is_chosen(run, token, moe_layer, e);
    b.base.push_back(chosen ? 0.0 : double(p[size_t(e)]));
    b.top.push_back(chosen ? double(p[size_t(e)]) : 0.0);
  }
  return b;
}

}  // namespace moescope::views
