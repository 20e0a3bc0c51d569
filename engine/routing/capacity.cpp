// `capacity:CF[:overflow|:end][:W]`: expert capacity as in GShard / Switch Transformer,
// C = ceil(CF * T * k / E) assignments per expert for a batch of T tokens.
//  - prompt (one prefill batch): T = prompt length. Policy `overflow` (default) fills experts in
//    GShard's arrival order: every token's first choice in sequence order, then every second choice,
//    and so on; `end` fills them token by token in sequence order (all of a token's choices before
//    the next token), which drops toward the end of the sequence as OpenMoE describes.
//  - decoding: one token at a time; its experts are checked against the assignments kept in the last
//    W-1 tokens (window W: the `:W` argument, else max(prompt length, 32), else 128), C = ceil(CF*W*k/E).
// An assignment over capacity is removed in place (expert -1, weight 0; the kept experts keep their
// weights, as in GShard). A token left with no expert is marked dropped: it skips the routed experts.
#include <algorithm>
#include <cmath>

#include "engine/routing/selection.h"

namespace moescope {

int capacity_of(double factor, int tokens, int k, int num_experts) {
  const double c = factor * tokens * k / num_experts;
  return std::max(1, int(std::ceil(c)));
}

CapacityLimit::CapacityLimit(const ModelConfig&, const CapacityOptions& opts, int nominal_k)
    : m_num_experts(0), m_k(nominal_k), m_opts(opts) {}

std::string CapacityLimit::spec() const {
  std::string s = "capacity:" + format_number(m_opts.factor);
  if (m_opts.window > 0) return s + (m_opts.drop_end ? ":end:" : ":overflow:") + std::to_string(m_opts.window);
  return m_opts.drop_end ? s + ":end" : s;
}

int CapacityLimit::window_for(int moe_layer) const {
  if (m_opts.window > 0) return m_opts.window;
  return default_decode_window(moe_layer < int(m_prefill_len.size()) ? m_prefill_len[moe_layer] : 0);
}

void CapacityLimit::apply(const RouterInput& in, RoutingDecision& out) {
  const int E = in.num_experts;
  const int K = out.k_max;
  const int l = in.moe_layer;
  m_num_experts = E;
  if (int(m_history.size()) <= l) {
    m_history.resize(l + 1);
    m_prefill_len.resize(l + 1, 0);
  }
  std::vector<Kept>& hist = m_history[l];
  auto position_of = [&](int t) {
    if (in.positions) return in.positions[t];
    return int32_t(hist.empty() ? t : hist.back().position + 1);
  };
  if (in.tokens == 0) return;
  // Recomputing positions already seen (no rewind was announced): forget them first.
  const int32_t first = position_of(0);
  while (!hist.empty() && hist.back().position >= first) hist.pop_back();

  auto drop_slot = [&](int t, int r) {
    out.experts[size_t(t) * K + r] = -1;
    out.weights[size_t(t) * K + r] = 0.0f;
  };
  std::vector<int> count(E, 0);
  if (in.prefill) {
    m_prefill_len[l] = in.tokens;
    const int C = capacity_of(m_opts.factor, in.tokens, m_k, E);
    auto visit = [&](int t, int r) {
      const int32_t e = out.experts[size_t(t) * K + r];
      if (e < 0) return;
      if (count[e] < C) ++count[e];
      else drop_slot(t, r);
    };
    if (m_opts.drop_end) {
      for (int t = 0; t < in.tokens; ++t)
        for (int r = 0; r < K; ++r) visit(t, r);
    } else {
      for (int r = 0; r < K; ++r)
        for (int t = 0; t < in.tokens; ++t) visit(t, r);
    }
  } else {
    const int W = window_for(l);
    const int C = capacity_of(m_opts.factor, W, m_k, E);
    for (int t = 0; t < in.tokens; ++t) {
      const int32_t p = position_of(t);
      std::fill(count.begin(), count.end(), 0);
      for (auto it = hist.rbegin(); it != hist.rend() && it->position > p - W; ++it)
        for (int32_t e : it->experts) ++count[e];
      for (int r = 0; r < K; ++r) {
        const int32_t e = out.experts[size_t(t) * K + r];
        if (e < 0) continue;
        if (count[e] < C) ++count[e];
        else drop_slot(t, r);
      }
      // later tokens of this batch see this one in their window
      Kept kept{p, {}};
      for (int r = 0; r < K; ++r)
        if (out.experts[size_t(t) * K + r] >= 0) kept.experts.push_back(out.experts[size_t(t) * K + r]);
      hist.push_back(std::move(kept));
    }
  }
  for (int t = 0; t < in.tokens; ++t) {
    bool any = false;
    for (int r = 0; r < K; ++r) any = any || out.experts[size_t(t) * K + r] >= 0;
    if (!any) out.dropped[t] = 1;
    if (in.prefill) {
      Kept kept{position_of(t), {}};
      for (int r = 0; r < K; ++r)
        if (out.experts[size_t(t) * K + r] >= 0) kept.experts.push_back(out.experts[size_t(t) * K + r]);
      hist.push_back(std::move(kept));
    }
  }
}

void CapacityLimit::rewind(int position) {
  for (auto& hist : m_history)
    while (!hist.empty() && hist.back().position >= position) hist.pop_back();
}

void CapacityLimit::reset() {
  m_history.clear();
  m_prefill_len.clear();
}

}  // namespace moescope
