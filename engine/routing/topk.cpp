// `native` and `topk:K` selections. `native` is the checkpoint's exact rule (route_native, native.cpp);
// with a mask it becomes the family rule with the native k over the unmasked experts. `topk:K` is the
// family rule (family_rule.cpp) with another k.
#include <vector>

#include "engine/model/model_config.h"
#include "engine/model/tensor.h"
#include "engine/routing/family_rule.h"
#include "engine/routing/selection.h"
#include "engine/routing/strategy.h"

namespace moescope {

namespace {

std::vector<float> correction_bias_of(const RouterInput& in) {
  if (!in.correction_bias || !in.correction_bias->valid()) return {};
  return in.correction_bias->to_f32();
}

void family_route_batch(const ModelConfig& cfg, const RouterInput& in, const uint8_t* disabled, int k,
                        RoutingDecision& out) {
  out.reset(in.tokens, k);
  const std::vector<float> bias = correction_bias_of(in);
  FamilyRow row{&cfg, in.num_experts, bias.empty() ? nullptr : bias.data(), disabled};
  for (int t = 0; t < in.tokens; ++t) {
    const int n = family_topk(row, in.logits + size_t(t) * in.num_experts, k, out.experts.data() + size_t(t) * k,
                              out.weights.data() + size_t(t) * k);
    out.dropped[t] = n == 0 ? 1 : 0;
  }
}

class NativeSelection final : public Selection {
 public:
  explicit NativeSelection(const ModelConfig& cfg) : m_config(cfg) {}
  void select(const RouterInput& in, const uint8_t* disabled, RoutingDecision& out) override {
    if (!disabled) {
      route_native(in, out);
      return;
    }
    family_route_batch(m_config, in, disabled, m_config.num_experts_per_tok, out);
  }
  std::string spec() const override { return "native"; }
  int nominal_k() const override { return m_config.num_experts_per_tok; }
  int k_max() const override { return m_config.num_experts_per_tok; }
  int min_unmasked() const override { return m_config.num_experts_per_tok; }

 private:
  const ModelConfig& m_config;
};

class TopKSelection final : public Selection {
 public:
  TopKSelection(const ModelConfig& cfg, int k) : m_config(cfg), m_k(k) {}
  void select(const RouterInput& in, const uint8_t* disabled, RoutingDecision& out) override {
    family_route_batch(m_config, in, disabled, m_k, out);
  }
  std::string spec() const override { return "topk:" + std::to_string(m_k); }
  int nominal_k() const override { return m_k; }
  int k_max() const override { return m_k; }
  int min_unmasked() const override { return m_k; }

 private:
  const ModelConfig& m_config;
  int m_k;
};

}  // namespace

std::unique_ptr<Selection> make_native_selection(const ModelConfig& config) {
  return std::make_unique<NativeSelection>(config);
}

std::unique_ptr<Selection> make_topk_selection(const ModelConfig& config, int k) {
  return std::make_unique<TopKSelection>(config, k);
}

}  // namespace moescope
