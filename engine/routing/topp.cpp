// `topp:P` selection: per token, the smallest set of experts (taken in router rank order) whose
// probability mass reaches P, so that uncertain ("harder") tokens get more experts. Probabilities are
// the family's (family_probabilities: softmax; DeepSeek sigmoid scores of the group-limited experts
// normalised to sum 1); the chosen experts' weights are those probabilities renormalised over the set,
// times the family's weight scale (DeepSeek routed_scaling_factor).
#include <string>
#include <vector>

#include "engine/model/model_config.h"
#include "engine/model/tensor.h"
#include "engine/routing/family_rule.h"
#include "engine/routing/selection.h"

namespace moescope {

namespace {

class TopPSelection final : public Selection {
 public:
  TopPSelection(const ModelConfig& cfg, double p) : m_config(cfg), m_p(p) {}
  void select(const RouterInput& in, const uint8_t* disabled, RoutingDecision& out) override {
    const int E = in.num_experts;
    out.reset(in.tokens, E);
    std::vector<float> bias;
    if (in.correction_bias && in.correction_bias->valid()) bias = in.correction_bias->to_f32();
    FamilyRow row{&m_config, E, bias.empty() ? nullptr : bias.data(), disabled};
    std::vector<float> probs(E);
    std::vector<int32_t> rank;
    const float scale = family_weight_scale(m_config);
    for (int t = 0; t < in.tokens; ++t) {
      const int n = family_probabilities(row, in.logits + size_t(t) * E, probs.data(), rank);
      int32_t* experts = out.experts.data() + size_t(t) * E;
      float* weights = out.weights.data() + size_t(t) * E;
      // mass accumulated in double; a set is complete once its mass reaches P (1e-9 slack so P=1
      // does not depend on the last bit of a float sum)
      double mass = 0.0;
      int chosen = 0;
      while (chosen < n && (chosen == 0 || mass < m_p - 1e-9)) {
        experts[chosen] = rank[chosen];
        mass += probs[rank[chosen]];
        ++chosen;
      }
      for (int i = 0; i < chosen; ++i) weights[i] = float(probs[experts[i]] / mass) * scale;
      out.dropped[t] = chosen == 0 ? 1 : 0;
    }
  }
  std::string spec() const override { return "topp:" + format_number(m_p); }
  int nominal_k() const override { return m_config.num_experts_per_tok; }
  int k_max() const override { return m_config.num_experts; }

 private:
  const ModelConfig& m_config;
  double m_p;
};

}  // namespace

std::unique_ptr<Selection> make_topp_selection(const ModelConfig& config, double p) {
  return std::make_unique<TopPSelection>(config, p);
}

}  // namespace moescope
