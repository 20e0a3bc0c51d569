// Qt-free adapters from probe data to the numbers the Qt Charts views plot, so the split of each bar
// (within / over capacity, chosen / not chosen) is tested without a chart.
#pragma once
#include <vector>

#include "views/routing_math.h"

namespace moescope::views {

// Two stacked bar sets per category: `base` at the bottom, `top` stacked on it (highlighted).
struct StackedBars {
  std::vector<double> base;
  std::vector<double> top;
  double max_total() const;
};

// Expert load at one MoE layer: base = min(load, C), top = overflow max(0, load - C).
StackedBars load_bars(const LoadTable& load, int moe_layer, double capacity);
// Router probabilities of one token: chosen experts go to `top`, the others to `base` (one of the two
// is 0 for every expert, so the stacked height is the probability).
StackedBars probability_bars(const RunData& run, int token, int moe_layer);

}  // namespace moescope::views
