// `expert-choice:CF[:W]` (Zhou et al. 2022): each expert picks the C = ceil(CF*T*k/E) tokens (at most
// T) that score it highest, so a token may get 0..E experts and every expert's load is exactly C.
// Scores are the family's per-token probabilities (softmax over the unmasked experts; DeepSeek: the
// sigmoid scores, without the correction bias); a chosen expert's weight is that score (times
// routed_scaling_factor for DeepSeek), not renormalised. Ties go to the earlier token.
// Prompt: one batch of T tokens. Decoding: the new token is picked by expert e when fewer than
// C = ceil(CF*W*k/E) tokens of the last W-1 (window as for capacity) score e at least as high.
// A token no expert picked is marked dropped (residual only).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/model/model_config.h"
#include "engine/routing/family_rule.h"
#include "engine/routing/selection.h"

namespace moescope {

namespace {

class ExpertChoiceSelection final : public Selection {
 public:
  ExpertChoiceSelection(const ModelConfig& cfg, const CapacityOptions& opts) : m_config(cfg), m_opts(opts) {}

  void select(const RouterInput& in, const uint8_t* disabled, RoutingDecision& out) override {
    const int E = in.num_experts;
    const int T = in.tokens;
    const int l = in.moe_layer;
    out.reset(T, E);
    if (int(m_history.size()) <= l) {
      m_history.resize(l + 1);
      m_prefill_len.resize(l + 1, 0);
    }
    auto& hist = m_history[l];
    auto position_of = [&](int t) { return in.positions ? in.positions[t] : int32_t(t); };
    if (T == 0) return;
    while (!hist.empty() && hist.back().position >= position_of(0)) hist.pop_back();

    // scores [T, E]
    std::vector<float> scores(size_t(T) * E);
    for (int t = 0; t < T; ++t) token_scores(in.logits + size_t(t) * E, E, disabled, scores.data() + size_t(t) * E);
    // picked[t][e]
    std::vector<uint8_t> picked(size_t(T) * E, 0);
    const int k = m_config.num_experts_per_tok;
    if (in.prefill) {
      m_prefill_len[l] = T;
      const int C = std::min(capacity_of(m_opts.factor, T, k, E), T);
      std::vector<int32_t> order(T);
      for (int e = 0; e < E; ++e) {
        if (disabled && disabled[e]) continue;
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
          return scores[size_t(a) * E + e] > scores[size_t(b) * E + e];
        });
        for (int i = 0; i < C; ++i) picked[size_t(order[i]) * E + e] = 1;
      }
    } else {
      const int W = window_for(l);
      const int C = std::min(capacity_of(m_opts.factor, W, k, E), W);
      for (int t = 0; t < T; ++t) {
        const int32_t p = position_of(t);
        const float* s = scores.data() + size_t(t) * E;
        for (int e = 0; e < E; ++e) {
          if (disabled && disabled[e]) continue;
          int higher = 0;
          for (auto it = hist.rbegin(); it != hist.rend() && it->position > p - W; ++it)
            if (it->scores[e] >= s[e]) ++higher;
          // earlier tokens of this batch count too
          for (int u = 0; u < t; ++u)
            if (position_of(u) > p - W && scores[size_t(u) * E + e] >= s[e]) ++higher;
          if (higher < C) picked[size_t(t) * E + e] = 1;
        }
      }
    }
    const float scale = family_weight_scale(m_config);
    std::vector<int32_t> rank;
    for (int t = 0; t < T; ++t) {
      const float* s = scores.data() + size_t(t) * E;
      rank_by_key(s, E, rank);
      int n = 0;
      for (int32_t e : rank) {
        if (!picked[size_t(t) * E + e]) continue;
        out.experts[size_t(t) * E + n] = e;
        out.weights[size_t(t) * E + n] = s[e] * scale;
        ++n;
      }
      out.dropped[t] = n == 0 ? 1 : 0;
      hist.push_back({position_of(t), std::vector<float>(s, s + E)});
    }
  }

  std::string spec() const override {
    std::string s = "expert-choice:" + format_number(m_opts.factor);
    return m_opts.window > 0 ? s + ":" + std::to_string(m_opts.window) : s;
  }
  int nominal_k() const override { return m_config.num_experts_per_tok; }
  int k_max() const override { return m_config.num_experts; }
  void rewind(int position) override {
    for (auto& hist : m_history)
      while (!hist.empty() && hist.back().position >= position) hist.pop_back();
  }
  void reset() override {
    m_history.clear();
    m_prefill_len.clear();
  }

 private:
  struct Scored {
    int32_t position;
    std::vector<float> scores;
  };

  void token_scores(const float* logits, int E, const uint8_t* disabled, float* out) const {
    if (m_config.scoring == RouterScoring::SigmoidGroupTopK) {
      for (int e = 0; e < E; ++e)
        out[e] = (disabled && disabled[e]) ? 0.0f : 1.0f / (1.0f + std::exp(-logits[e]));
    } else {
      masked_softmax(logits, E, disabled, out);
    }
  }
  int window_for(int l) const {
    if (m_opts.window > 0) return m_opts.window;
    return default_decode_window(m_prefill_len[l]);
  }

  const ModelConfig& m_config;
  CapacityOptions m_opts;
  std::vector<std::vector<Scored>> m_history;
  std::vector<int> m_prefill_len;
};

}  // namespace

std::unique_ptr<Selection> make_expert_choice_selection(const ModelConfig& config, const CapacityOptions& opts) {
  return std::make_unique<ExpertChoiceSelection>(config, opts);
}

}  // namespace moescope
