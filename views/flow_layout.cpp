// Flow (Sankey) layout arithmetic (see flow_layout.h).
#include "views/flow_layout.h"

#include <algorithm>
#include <numeric>

#include "probes/metrics/drift.h"

namespace moescope::views {

const FlowNode* FlowLayout::node(int column, int expert) const {
  for (const FlowNode& n : nodes)
    if (n.column == column && n.expert == expert) return &n;
  return nullptr;
}

FlowLayout layout_flow(const std::vector<std::vector<int64_t>>& loads,
                       const std::vector<std::vector<int64_t>>& transitions, int E, double height, double gap,
                       int top_bands) {
  FlowLayout out;
  out.columns = int(loads.size());
  if (out.columns == 0 || E <= 0) return out;
  int64_t max_total = 0;
  for (const auto& l : loads) max_total = std::max<int64_t>(max_total, std::accumulate(l.begin(), l.end(), int64_t(0)));
  const double scale = max_total > 0 ? std::max(0.0, height - gap * (E - 1)) / double(max_total) : 0.0;

  // Nodes, and for each (column, expert) the node's index.
  std::vector<std::vector<int>> index(size_t(out.columns), std::vector<int>(size_t(E), -1));
  for (int c = 0; c < out.columns; ++c) {
    double y = 0;
    for (int e = 0; e < E; ++e) {
      const int64_t load = e < int(loads[size_t(c)].size()) ? loads[size_t(c)][size_t(e)] : 0;
      if (load <= 0) continue;
      index[size_t(c)][size_t(e)] = int(out.nodes.size());
      out.nodes.push_back({c, e, load, y, double(load) * scale});
      y += double(load) * scale + gap;
    }
  }

  // Bands: the largest transitions of each pair.
  std::vector<double> out_offset(out.nodes.size(), 0.0), in_offset(out.nodes.size(), 0.0);
  for (int c = 0; c + 1 < out.columns && c < int(transitions.size()); ++c) {
    const auto& t = transitions[size_t(c)];
    std::vector<FlowBand> all;
    int64_t total = 0;
    for (int a = 0; a < E; ++a)
      for (int b = 0; b < E; ++b) {
        const int64_t n = t[size_t(a) * E + b];
        total += n;
        if (n > 0) all.push_back({c, a, b, n, 0, 0, double(n) * scale});
      }
    std::stable_sort(all.begin(), all.end(), [](const FlowBand& x, const FlowBand& y) { return x.count > y.count; });
    if (int(all.size()) > top_bands) all.resize(size_t(std::max(0, top_bands)));
    int64_t shown = 0;
    for (const FlowBand& b : all) shown += b.count;
    out.shown_fraction.push_back(total > 0 ? double(shown) / double(total) : 0.0);
    // Stack at the source in target order and at the target in source order (fewer crossings).
    std::vector<FlowBand*> by_target, by_source;
    for (FlowBand& b : all) by_target.push_back(&b), by_source.push_back(&b);
    std::stable_sort(by_target.begin(), by_target.end(), [](auto* x, auto* y) { return x->to < y->to; });
    std::stable_sort(by_source.begin(), by_source.end(), [](auto* x, auto* y) { return x->from < y->from; });
    for (FlowBand* b : by_target) {
      const int ni = index[size_t(c)][size_t(b->from)];
      if (ni < 0) continue;  // transitions without a node (inconsistent input): still placed at 0
      b->y_from = out.nodes[size_t(ni)].y + out_offset[size_t(ni)];
      out_offset[size_t(ni)] += b->thickness;
    }
    for (FlowBand* b : by_source) {
      const int ni = index[size_t(c) + 1][size_t(b->to)];
      if (ni < 0) continue;
      b->y_to = out.nodes[size_t(ni)].y + in_offset[size_t(ni)];
      in_offset[size_t(ni)] += b->thickness;
    }
    out.bands.insert(out.bands.end(), all.begin(), all.end());
  }
  return out;
}

FlowLayout layout_flow(const RunData& run, double height, double gap, int top_bands) {
  const int M = run.num_moe_layers(), E = run.num_experts;
  std::vector<std::vector<int64_t>> loads(size_t(M), std::vector<int64_t>(size_t(std::max(E, 0)), 0));
  for (int t = 0; t < run.num_tokens(); ++t)
    for (int l = 0; l < M; ++l) {
      if (run.k_max <= 0 || run.dropped_at(t, l)) continue;
      const int e = run.experts_at(t, l)[0];
      if (e >= 0 && e < E) ++loads[size_t(l)][size_t(e)];
    }
  std::vector<std::vector<int64_t>> trans;
  for (int l = 0; l + 1 < M; ++l) trans.push_back(metrics::transition_matrix(run, l, true));
  return layout_flow(loads, trans, E, height, gap, top_bands);
}

}  // namespace moescope::views
