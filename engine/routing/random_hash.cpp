// Router-free baselines. `random:SEED[:softmax]` draws k distinct experts uniformly per (MoE layer,
// position); `hash[:K]` picks K experts from a fixed hash of the token id per MoE layer, like Hash
// Layers (Roller et al. 2021), so a token id always meets the same experts. Both use the native k
// unless told otherwise, skip masked experts, and are deterministic: the draw depends only on the
// seed (random) or token id (hash), the MoE layer and the position (random), never on batching.
// Weights: uniform 1/k (times DeepSeek's routed_scaling_factor); `random:SEED:softmax` instead uses the
// router's softmax probabilities renormalised over the drawn experts.
#include <vector>

#include "engine/model/model_config.h"
#include "engine/routing/family_rule.h"
#include "engine/routing/selection.h"

namespace moescope {

uint64_t mix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

namespace {

// k distinct experts among the unmasked, by a partial Fisher-Yates shuffle driven by `state`.
int draw_experts(uint64_t state, int E, int k, const uint8_t* disabled, int32_t* experts) {
  std::vector<int32_t> cand;
  cand.reserve(E);
  for (int e = 0; e < E; ++e)
    if (!(disabled && disabled[e])) cand.push_back(e);
  const int n = int(cand.size());
  const int take = k < n ? k : n;
  for (int i = 0; i < take; ++i) {
    state = mix64(state);
    const int j = i + int(state % uint64_t(n - i));
    std::swap(cand[i], cand[j]);
    experts[i] = cand[i];
  }
  return take;
}

class DrawnSelection final : public Selection {
 public:
  DrawnSelection(const ModelConfig& cfg, bool hash, uint64_t seed, int k, bool softmax_weights)
      : m_config(cfg), m_hash(hash), m_seed(seed), m_k(k), m_softmax(softmax_weights) {}

  void select(const RouterInput& in, const uint8_t* disabled, RoutingDecision& out) override {
    const int E = in.num_experts;
    out.reset(in.tokens, m_k);
    const float scale = family_weight_scale(m_config);
    std::vector<float> probs(E);
    for (int t = 0; t < in.tokens; ++t) {
      uint64_t state;
      if (m_hash) {
        const uint64_t id = in.token_ids ? uint64_t(int64_t(in.token_ids[t])) : 0;
        state = mix64(mix64(id) ^ uint64_t(in.moe_layer));
      } else {
        const uint64_t pos = in.positions ? uint64_t(uint32_t(in.positions[t])) : uint64_t(t);
        state = mix64(m_seed ^ mix64((uint64_t(uint32_t(in.moe_layer)) << 32) ^ pos));
      }
      int32_t* experts = out.experts.data() + size_t(t) * m_k;
      float* weights = out.weights.data() + size_t(t) * m_k;
      const int n = draw_experts(state, E, m_k, disabled, experts);
      if (m_softmax) {
        masked_softmax(in.logits + size_t(t) * E, E, disabled, probs.data());
        double sum = 0.0;
        for (int i = 0; i < n; ++i) sum += probs[experts[i]];
        for (int i = 0; i < n; ++i) weights[i] = float(probs[experts[i]] / sum) * scale;
      } else {
        for (int i = 0; i < n; ++i) weights[i] = scale / float(n);
      }
      out.dropped[t] = n == 0 ? 1 : 0;
    }
  }
  std::string spec() const override {
    if (m_hash) return m_k == m_config.num_experts_per_tok ? "hash" : "hash:" + std::to_string(m_k);
    return "random:" + std::to_string(m_seed) + (m_softmax ? ":softmax" : "");
  }
  int nominal_k() const override { return m_k; }
  int k_max() const override { return m_k; }
  int min_unmasked() const override { return m_k; }

 private:
  const ModelConfig& m_config;
  bool m_hash;
  uint64_t m_seed;
  int m_k;
  bool m_softmax;
};

}  // namespace

std::unique_ptr<Selection> make_random_selection(const ModelConfig& config, uint64_t seed, bool softmax_weights) {
  return std::make_unique<DrawnSelection>(config, false, seed, config.num_experts_per_tok, softmax_weights);
}

std::unique_ptr<Selection> make_hash_selection(const ModelConfig& config, int k) {
  return std::make_unique<DrawnSelection>(config, true, 0, k, false);
}

}  // namespace moescope
