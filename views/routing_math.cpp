// Router probabilities, top-1 experts and expert load (see routing_math.h).
#include "views/routing_math.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace moescope::views {

ScoreKind score_kind_for_family(const std::string& family) {
  // DeepSeek-V3, GLM-4.5 and dots.llm1 score experts with sigmoid; every other supported family (DeepSeek-V2 too)
  // with softmax.
  if (family == "deepseek_v3" || family == "glm4_moe" || family == "dots1") return ScoreKind::Sigmoid;
  return ScoreKind::Softmax;
}

const char* score_kind_label(ScoreKind kind) { return kind == ScoreKind::Sigmoid ? "sigmoid" : "softmax"; }

void router_probabilities(const RunData& run, int token, int moe_layer, float* out) {
  const int e = run.num_experts;
  const float* logits = run.logits_at(token, moe_layer);
  if (score_kind_for_family(run.family) == ScoreKind::Sigmoid) {
    for (int i = 0; i < e; ++i) out[i] = float(1.0 / (1.0 + std::exp(-double(logits[i]))));
    return;
  }
  // Softmax in double with the max subtracted: exact enough to compare with a reference to 1e-6.
  double mx = -INFINITY;
  for (int i = 0; i < e; ++i) mx = std::max(mx, double(logits[i]));
  double sum = 0;
  for (int i = 0; i < e; ++i) sum += std::exp(double(logits[i]) - mx);
  for (int i = 0; i < e; ++i) out[i] = float(std::exp(double(logits[i]) - mx) / sum);
}

std::vector<float> router_probabilities(const RunData& run, int token, int moe_layer) {
  std::vector<float> p(size_t(std::max(0, run.num_experts)));
  if (!p.empty()) router_probabilities(run, token, moe_layer, p.data());
  return p;
}

int top1_expert(const RunData& run, int token, int moe_layer) {
  if (run.k_max <= 0) return -1;
  if (!run.dropped.empty() && run.dropped_at(token, moe_layer)) return -1;
  return run.experts_at(token, moe_layer)[0];
}

bool is_chosen(const RunData& run, int token, int moe_layer, int expert) {
  const int32_t* ex = run.experts_at(token, moe_layer);
  for (int k = 0; k < run.k_max; ++k)
    if (ex[k] == expert) return true;
  return false;
}

float chosen_weight(const RunData& run, int token, int moe_layer, int expert) {
  const int32_t* ex = run.experts_at(token, moe_layer);
  const float* w = run.weights_at(token, moe_layer);
  for (int k = 0; k < run.k_max; ++k)
    if (ex[k] == expert) return w[k];
  return 0.0f;
}

double colour_scale_max(double max_value) {
  if (!(max_value > 0)) return 0.1;
  const double up = std::ceil(max_value * 10.0 - 1e-9) / 10.0;
  return std::clamp(up, 0.1, 1.0);
}

int experts_per_token(const RunData& run) {
  if (!run.model_config.empty()) {
    auto j = nlohmann::json::parse(run.model_config, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) {
      for (const char* key : {"num_experts_per_tok", "moe_topk", "experts_per_token"}) {
        auto it = j.find(key);
        if (it != j.end() && it->is_number_integer() && it->get<int>() > 0) return it->get<int>();
      }
    }
  }
  return std::max(1, run.k_max);
}

std::string group_limit_note(const RunData& run) {
  if (run.family == "ernie4_5_moe") return "chosen on probability + correction bias";
  if (run.family == "phimoe") {  // sparsemixer: the weights are not the softmax over all experts, nor renormalised
    auto j = nlohmann::json::parse(run.model_config, nullptr, /*allow_exceptions=*/false);
    double eps = 0.01;  // PhimoeConfig's default router_jitter_noise
    if (j.is_object() && j.contains("router_jitter_noise") && j["router_jitter_noise"].is_number())
      eps = j["router_jitter_noise"].get<double>();
    char buf[96];
    std::snprintf(buf, sizeof buf, "sparsemixer: each weight is a softmax over the logits within %g%% of that round's best",
                  200.0 * eps);
    return buf;
  }
  if (run.family != "deepseek_v2" && run.family != "deepseek_v3" && run.family != "glm4_moe" && run.family != "dots1")
    return {};
  auto j = nlohmann::json::parse(run.model_config, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return {};
  auto int_of = [&j](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number_integer() ? it->get<int>() : 1;
  };
  auto method = j.find("topk_method");
  const bool greedy = run.family == "deepseek_v2" &&
                      (method == j.end() || (method->is_string() && method->get<std::string>() == "greedy"));
  const int groups = int_of("n_group"), kept = int_of("topk_group");
  std::string note;
  if (!greedy && groups > 1)
    note = "chosen within the best " + std::to_string(kept) + " of " + std::to_string(groups) + " expert groups";
  auto scale = j.find("routed_scaling_factor");
  if (scale != j.end() && scale->is_number() && scale->get<double>() != 1.0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", scale->get<double>());
    note += (note.empty() ? "" : "; ") + std::string("weights \u00d7 ") + buf;
  }
  return note;
}

int64_t LoadTable::layer_total(int layer) const {
  int64_t s = 0;
  for (int e = 0; e < experts; ++e) s += at(layer, e);
  return s;
}

int64_t LoadTable::expert_total(int expert) const {
  int64_t s = 0;
  for (int l = 0; l < layers; ++l) s += at(l, expert);
  return s;
}

LoadTable expert_load(const RunData& run) {
  LoadTable t;
  t.layers = run.num_moe_layers();
  t.experts = run.num_experts;
  t.tokens = run.num_tokens();
  t.counts.assign(size_t(t.layers) * size_t(std::max(0, t.experts)), 0);
  for (int tok = 0; tok < t.tokens; ++tok)
    for (int l = 0; l < t.layers; ++l) {
      const int32_t* ex = run.experts_at(tok, l);
      for (int k = 0; k < run.k_max; ++k)
        if (ex[k] >= 0 && ex[k] < t.experts) ++t.counts[size_t(l) * t.experts + ex[k]];
    }
  return t;
}

double expert_capacity(double capacity_factor, int tokens, int k, int experts) {
  if (experts <= 0) return 0.0;
  return capacity_factor * double(tokens) * double(k) / double(experts);
}

double overflow_at_layer(const LoadTable& load, int layer, double capacity) {
  double over = 0;
  for (int e = 0; e < load.experts; ++e) over += std::max(0.0, double(load.at(layer, e)) - capacity);
  return over;
}

}  // namespace moescope::views
