// The per-family router rule with a free k and an expert mask (see family_rule.h). Mirrors the
// Hugging Face modeling files: Mixtral/OLMoE/Qwen softmax -> top-k (-> renormalise), DeepSeek-V2 softmax
// -> top-k within the groups with the best maximum, DeepSeek-V3 sigmoid + correction bias + group-limited
// top-k, GPT-OSS top-k on logits -> softmax over the k.
#include "engine/routing/family_rule.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "engine/model/model_config.h"
#include "engine/routing/sparsemixer.h"

namespace moescope {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

bool is_disabled(const FamilyRow& row, int e) { return row.disabled && row.disabled[e]; }

// DeepSeek-V3 selection scores: sigmoid + bias; masked experts and experts outside the kept groups
// -inf (transformers 5's DeepseekV3TopkRouter masked_fill(..., -inf)), so they are never chosen.
// `in_kept_group[e]` is set for experts of the kept groups.
void deepseek_choice_scores(const FamilyRow& row, const float* logits, std::vector<float>& sig,
                            std::vector<float>& choice, std::vector<uint8_t>& in_kept_group) {
  const ModelConfig& cfg = *row.config;
  const int E = row.num_experts;
  sig.resize(E);
  choice.resize(E);
  in_kept_group.assign(E, 1);
  for (int e = 0; e < E; ++e) {
    sig[e] = 1.0f / (1.0f + std::exp(-logits[e]));
    choice[e] = is_disabled(row, e) ? kNegInf : sig[e] + (row.bias ? row.bias[e] : 0.0f);
  }
  const int groups = std::max(1, cfg.n_group);
  if (groups <= 1 || E % groups != 0) return;
  const int per = E / groups;
  std::vector<float> group_score(groups);
  for (int g = 0; g < groups; ++g) {
    // sum of the top-2 choice scores of the group
    float a = kNegInf, b = kNegInf;
    for (int j = 0; j < per; ++j) {
      const float v = choice[g * per + j];
      if (v > a) { b = a; a = v; } else if (v > b) { b = v; }
    }
    group_score[g] = per >= 2 ? a + b : a;
  }
  std::vector<int32_t> order;
  rank_by_key(group_score.data(), groups, order);
  std::vector<uint8_t> keep(groups, 0);
  for (int i = 0; i < std::min(cfg.topk_group, groups); ++i) keep[order[i]] = 1;
  for (int e = 0; e < E; ++e) {
    if (keep[e / per]) continue;
    in_kept_group[e] = 0;
    choice[e] = kNegInf;
  }
}

// DeepSeek-V2 group_limited_greedy: `kept[e]` = 1 for the experts of the topk_group groups whose
// largest probability is highest (masked experts have probability 0, so they do not lift a group).
void softmax_kept_groups(const FamilyRow& row, const float* probs, std::vector<uint8_t>& kept) {
  const ModelConfig& cfg = *row.config;
  const int E = row.num_experts;
  kept.assign(E, 1);
  const int groups = std::max(1, cfg.n_group);
  if (cfg.scoring != RouterScoring::SoftmaxGroupTopK || groups <= 1 || E % groups != 0) return;
  const int per = E / groups;
  std::vector<float> group_score(groups);
  for (int g = 0; g < groups; ++g) group_score[g] = *std::max_element(probs + g * per, probs + (g + 1) * per);
  std::vector<int32_t> order;
  rank_by_key(group_score.data(), groups, order);
  std::vector<uint8_t> keep(groups, 0);
  for (int i = 0; i < std::min(cfg.topk_group, groups); ++i) keep[order[i]] = 1;
  for (int e = 0; e < E; ++e) kept[e] = keep[e / per];
}

}  // namespace

void rank_by_key(const float* key, int n, std::vector<int32_t>& order) {
  order.resize(n);
  std::iota(order.begin(), order.end(), 0);
  // explicit index tie-break instead of stable_sort: same order, no temporary buffer
  // (NaN ranks last, so a broken router cannot break the sort's ordering contract)
  auto value = [key](int32_t i) { return std::isnan(key[i]) ? kNegInf : key[i]; };
  std::sort(order.begin(), order.end(), [&value](int32_t a, int32_t b) {
    const float va = value(a), vb = value(b);
    return va > vb || (va == vb && a < b);
  });
}

void masked_softmax(const float* logits, int n, const uint8_t* disabled, float* out) {
  float mx = kNegInf;
  for (int i = 0; i < n; ++i)
    if (!(disabled && disabled[i])) mx = std::max(mx, logits[i]);
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    out[i] = (disabled && disabled[i]) ? 0.0f : std::exp(logits[i] - mx);
    sum += out[i];
  }
  for (int i = 0; i < n; ++i) out[i] /= sum;
}

bool family_renormalises(const ModelConfig& config) {
  return config.family == Family::Mixtral || config.norm_topk_prob;
}

float family_weight_scale(const ModelConfig& config) { return config.routed_scaling_factor; }

int family_topk(const FamilyRow& row, const float* logits, int k, int32_t* experts, float* weights) {
  const ModelConfig& cfg = *row.config;
  const int E = row.num_experts;
  std::fill(experts, experts + k, -1);
  std::fill(weights, weights + k, 0.0f);
  // per-thread scratch: no allocation per token once warmed up
  thread_local std::vector<int32_t> order;
  thread_local std::vector<float> probs, key, sig, choice;
  thread_local std::vector<uint8_t> kept;
  int chosen = 0;
  switch (cfg.scoring) {
    case RouterScoring::SoftmaxTopK:
    case RouterScoring::SoftmaxGroupTopK: {
      probs.resize(E);
      masked_softmax(logits, E, row.disabled, probs.data());
      softmax_kept_groups(row, probs.data(), kept);
      // rank on the logits: same order as the probabilities, without rounding ties (ERNIE: on the
      // probabilities + correction bias); experts masked or outside the kept groups are not eligible
      key.assign(logits, logits + E);
      if (row.bias)
        for (int e = 0; e < E; ++e) key[e] = probs[e] + row.bias[e];
      for (int e = 0; e < E; ++e)
        if (is_disabled(row, e) || !kept[e]) key[e] = kNegInf;
      rank_by_key(key.data(), E, order);
      float sum = 0.0f;
      for (int i = 0; i < k && i < E; ++i) {
        if (key[order[i]] == kNegInf) break;
        experts[i] = order[i];
        weights[i] = probs[order[i]];
        sum += weights[i];
        ++chosen;
      }
      if (family_renormalises(cfg) && sum > 0.0f)
        for (int i = 0; i < chosen; ++i) weights[i] /= std::max(sum, cfg.router_norm_min);
      for (int i = 0; i < chosen; ++i) weights[i] *= cfg.routed_scaling_factor;
      break;
    }
    case RouterScoring::TopKSoftmax: {
      key.assign(logits, logits + E);
      for (int e = 0; e < E; ++e)
        if (is_disabled(row, e)) key[e] = kNegInf;
      rank_by_key(key.data(), E, order);
      for (int i = 0; i < k && i < E; ++i) {
        if (is_disabled(row, order[i])) break;
        experts[i] = order[i];
        ++chosen;
      }
      float mx = kNegInf, sum = 0.0f;
      for (int i = 0; i < chosen; ++i) mx = std::max(mx, logits[experts[i]]);
      for (int i = 0; i < chosen; ++i) sum += (weights[i] = std::exp(logits[experts[i]] - mx));
      for (int i = 0; i < chosen; ++i) weights[i] /= sum;
      break;
    }
    case RouterScoring::SparseMixer:
      chosen = sparsemixer_route(logits, E, k, cfg.router_jitter_noise, row.disabled, experts, weights);
      break;
    case RouterScoring::SigmoidGroupTopK: {
      deepseek_choice_scores(row, logits, sig, choice, kept);
      rank_by_key(choice.data(), E, order);
      float sum = 0.0f;
      for (int i = 0; i < k && i < E; ++i) {
        if (choice[order[i]] == kNegInf) break;  // masked, or outside the kept groups
        experts[i] = order[i];
        weights[i] = sig[order[i]];
        sum += weights[i];
        ++chosen;
      }
      if (cfg.norm_topk_prob)
        for (int i = 0; i < chosen; ++i) weights[i] /= (sum + 1e-20f);
      for (int i = 0; i < chosen; ++i) weights[i] *= cfg.routed_scaling_factor;
      break;
    }
  }
  return chosen;
}

int family_probabilities(const FamilyRow& row, const float* logits, float* probs, std::vector<int32_t>& rank) {
  const ModelConfig& cfg = *row.config;
  const int E = row.num_experts;
  std::vector<int32_t> order;
  rank.clear();
  if (cfg.scoring == RouterScoring::SigmoidGroupTopK) {
    std::vector<float> sig, choice;
    std::vector<uint8_t> kept;
    deepseek_choice_scores(row, logits, sig, choice, kept);
    double sum = 0.0;
    for (int e = 0; e < E; ++e) {
      const bool eligible = kept[e] && !is_disabled(row, e);
      probs[e] = eligible ? sig[e] : 0.0f;
      sum += probs[e];
      if (!eligible) choice[e] = kNegInf;
    }
    for (int e = 0; e < E; ++e) probs[e] = sum > 0 ? float(probs[e] / sum) : 0.0f;
    rank_by_key(choice.data(), E, order);
    for (int e : order)
      if (kept[e] && !is_disabled(row, e)) rank.push_back(e);
    return int(rank.size());
  }
  masked_softmax(logits, E, row.disabled, probs);
  std::vector<uint8_t> kept;
  softmax_kept_groups(row, probs, kept);
  std::vector<float> key(logits, logits + E);
  if (row.bias)  // ERNIE: experts rank by probability + correction bias, as its router chooses them
    for (int e = 0; e < E; ++e) key[e] = probs[e] + row.bias[e];
  double sum = 0.0;
  bool excluded = false;  // DeepSeek-V2 group limiting left experts out: renormalise over the kept groups
  for (int e = 0; e < E; ++e) {
    if (!kept[e]) {
      excluded = true;
      probs[e] = 0.0f;
    }
    if (is_disabled(row, e) || !kept[e]) key[e] = kNegInf;
    sum += probs[e];
  }
  if (excluded && sum > 0.0)
    for (int e = 0; e < E; ++e) probs[e] = float(probs[e] / sum);
  rank_by_key(key.data(), E, order);
  for (int e : order)
    if (key[e] != kNegInf) rank.push_back(e);
  return int(rank.size());
}

}  // namespace moescope
