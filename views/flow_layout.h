// Geometry of the drift flow picture (Sankey-like): columns = MoE layers, nodes = experts sized by
// their top-1 load at that layer, bands = the most frequent top-1 transitions between consecutive
// layers. Pure arithmetic (no Qt), so the layout is tested against hand-computed positions; the
// widget (views/flow_view.h) only scales and paints it.
#pragma once
#include <cstdint>
#include <vector>

#include "probes/run_data.h"

namespace moescope::views {

struct FlowNode {
  int column = 0;      // MoE layer index (0..M-1)
  int expert = 0;
  int64_t load = 0;    // tokens whose top-1 expert is `expert` at this layer
  double y = 0, height = 0;
};

struct FlowBand {
  int column = 0;      // from MoE layer `column` to `column + 1`
  int from = 0, to = 0;
  int64_t count = 0;   // tokens going from expert `from` to expert `to`
  double y_from = 0, y_to = 0, thickness = 0;  // top of the band at each end, and its thickness
};

struct FlowLayout {
  int columns = 0;
  std::vector<FlowNode> nodes;                  // column-major, experts in id order, empty experts left out
  std::vector<FlowBand> bands;                  // per column pair, largest first
  std::vector<double> shown_fraction;           // [columns - 1] share of the pair's transitions drawn
  const FlowNode* node(int column, int expert) const;
};

// loads: [M][E] top-1 tokens per expert; transitions: [M-1][E*E] counts (row = expert at layer l).
// Nodes of a column are stacked from y = 0 in expert order with `gap` between non-empty ones; one token
// is `scale` = (height - gap * (E - 1)) / max_l(total load of l) high, so node heights and band
// thicknesses are comparable across columns. Each pair keeps its `top_bands` largest transitions
// (ties: smaller from, then smaller to). A node's outgoing bands are stacked from its top in target
// order, its incoming bands in source order.
FlowLayout layout_flow(const std::vector<std::vector<int64_t>>& loads,
                       const std::vector<std::vector<int64_t>>& transitions, int num_experts, double height,
                       double gap, int top_bands);

// Top-1 loads and transitions of a run (dropped tokens and padding skipped), then layout_flow.
FlowLayout layout_flow(const RunData& run, double height, double gap, int top_bands);

}  // namespace moescope::views
