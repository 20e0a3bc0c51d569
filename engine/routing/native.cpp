// route_native: each family's own router rule, exactly as transformers computes it (fp32, ties broken
// toward the lower expert index like torch.topk).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "engine/model/model_config.h"
#include "engine/routing/sparsemixer.h"
#include "engine/routing/strategy.h"
#include "engine/util/error.h"

namespace moescope {

namespace {

// Indices of the k largest values of v[0..n), best first; equal values keep the lower index first.
void topk(const float* v, int n, int k, int32_t* out, int32_t* scratch) {
  for (int i = 0; i < n; ++i) scratch[i] = i;
  std::partial_sort(scratch, scratch + k, scratch + n, [v](int32_t a, int32_t b) {
    return v[a] > v[b] || (v[a] == v[b] && a < b);
  });
  std::copy(scratch, scratch + k, out);
}

// The `keep` best of G groups of `per` consecutive experts by `score`; every other expert's value in
// `v` becomes `masked` (transformers 5: 0.0 in DeepseekV2TopkRouter, -inf in DeepseekV3TopkRouter).
void keep_best_groups(const float* score_of_group, int G, int keep, int per, float* v, int32_t* groups,
                      uint8_t* gmask, int32_t* scratch, float masked) {
  topk(score_of_group, G, keep, groups, scratch);
  std::fill(gmask, gmask + G, uint8_t(0));
  for (int i = 0; i < keep; ++i) gmask[groups[i]] = 1;
  for (int e = 0; e < G * per; ++e)
    if (!gmask[e / per]) v[e] = masked;
}

// Mixtral / OLMoE / Qwen (softmax -> top-k -> renormalise if the family does), DeepSeek-V2
// (DeepseekV2TopkRouter: with topk_method "group_limited_greedy" only the topk_group groups whose best
// probability is highest compete; weights times routed_scaling_factor, 1 elsewhere) and ERNIE 4.5
// (Ernie4_5_MoeTopKRouter: the choice is softmax + e_score_correction_bias, weights the probabilities
// renormalised by max(sum, moe_norm_min)).
void softmax_topk(const RouterInput& in, RoutingDecision& out, int k, bool renormalise, bool group_limited) {
  const ModelConfig& c = *in.config;
  const int E = in.num_experts;
  const int G = group_limited ? std::max(1, c.n_group) : 1;
  if (E % G != 0) throw Error("router: " + std::to_string(E) + " experts do not split into n_group=" + std::to_string(G));
  const int per = E / G;
  const int keep = std::clamp(c.topk_group, 1, G);
  const bool has_bias = in.correction_bias && in.correction_bias->valid();
  if (has_bias && G > 1) throw Error("router: a correction bias with softmax group limiting is not a known rule");
  thread_local std::vector<float> probs, choice, gscore;
  thread_local std::vector<int32_t> idx, groups;
  thread_local std::vector<uint8_t> gmask;
  probs.resize(size_t(E));
  choice.resize(size_t(E));
  gscore.resize(size_t(G));
  idx.resize(size_t(E));
  groups.resize(size_t(G));
  gmask.resize(size_t(G));
  for (int t = 0; t < in.tokens; ++t) {
    const float* lg = in.logits + size_t(t) * E;
    float mx = lg[0];
    for (int e = 1; e < E; ++e) mx = std::max(mx, lg[e]);
    float sum = 0.0f;
    for (int e = 0; e < E; ++e) {
      probs[size_t(e)] = std::exp(lg[e] - mx);
      sum += probs[size_t(e)];
    }
    for (int e = 0; e < E; ++e) probs[size_t(e)] /= sum;
    const float* select_on = probs.data();
    if (has_bias) {
      for (int e = 0; e < E; ++e) choice[size_t(e)] = probs[size_t(e)] + in.correction_bias->at(e);
      select_on = choice.data();
    }
    if (G > 1) {
      for (int g = 0; g < G; ++g)
        gscore[size_t(g)] = *std::max_element(probs.begin() + g * per, probs.begin() + (g + 1) * per);
      choice = probs;
      keep_best_groups(gscore.data(), G, keep, per, choice.data(), groups.data(), gmask.data(), idx.data(), 0.0f);
      select_on = choice.data();
    }
    int32_t* ex = out.experts.data() + size_t(t) * k;
    float* w = out.weights.data() + size_t(t) * k;
    topk(select_on, E, k, ex, idx.data());
    float s = 0.0f;
    for (int j = 0; j < k; ++j) {
      w[j] = probs[size_t(ex[j])];
      s += w[j];
    }
    if (renormalise) {
      const float denom = std::max(s, c.router_norm_min);
      for (int j = 0; j < k; ++j) w[j] /= denom;
    }
    if (c.routed_scaling_factor != 1.0f)
      for (int j = 0; j < k; ++j) w[j] *= c.routed_scaling_factor;
  }
}

// DeepSeek-V3 (DeepseekV3TopkRouter): sigmoid scores; selection on scores + correction bias within
// the topk_group best groups (group score = sum of its top-2); experts of the other groups score -inf, as
// masked_fill does there (transformers 4.x filled 0.0, which let them win over negative corrected scores).
void sigmoid_group_topk(const RouterInput& in, RoutingDecision& out, int k) {
  const ModelConfig& c = *in.config;
  const int E = in.num_experts;
  const int G = std::max(1, c.n_group);
  if (E % G != 0) throw Error("router: " + std::to_string(E) + " experts do not split into n_group=" + std::to_string(G));
  const int per = E / G;
  const int keep = std::clamp(c.topk_group, 1, G);
  // thread_local scratch: no allocation per decoded token once warmed up
  thread_local std::vector<float> s, choice, gscore;
  thread_local std::vector<int32_t> idx, groups;
  thread_local std::vector<uint8_t> gmask;
  s.resize(size_t(E));
  choice.resize(size_t(E));
  gscore.resize(size_t(G));
  idx.resize(size_t(std::max(E, G)));
  groups.resize(size_t(G));
  gmask.resize(size_t(G));
  const bool has_bias = in.correction_bias && in.correction_bias->valid();
  for (int t = 0; t < in.tokens; ++t) {
    const float* lg = in.logits + size_t(t) * E;
    for (int e = 0; e < E; ++e) {
      s[size_t(e)] = 1.0f / (1.0f + std::exp(-lg[e]));
      choice[size_t(e)] = s[size_t(e)] + (has_bias ? in.correction_bias->at(e) : 0.0f);
    }
    for (int g = 0; g < G; ++g) {
      const float* v = choice.data() + size_t(g) * per;
      if (per >= 2) {
        int32_t top2[2];
        topk(v, per, 2, top2, idx.data());
        gscore[size_t(g)] = v[top2[0]] + v[top2[1]];
      } else {
        gscore[size_t(g)] = v[0];
      }
    }
    keep_best_groups(gscore.data(), G, keep, per, choice.data(), groups.data(), gmask.data(), idx.data(),
                     -std::numeric_limits<float>::infinity());
    int32_t* ex = out.experts.data() + size_t(t) * k;
    float* w = out.weights.data() + size_t(t) * k;
    topk(choice.data(), E, k, ex, idx.data());
    float sum = 0.0f;
    for (int j = 0; j < k; ++j) {
      w[j] = s[size_t(ex[j])];
      sum += w[j];
    }
    if (c.norm_topk_prob) {
      const float denom = sum + 1e-20f;
      for (int j = 0; j < k; ++j) w[j] /= denom;
    }
    for (int j = 0; j < k; ++j) w[j] *= c.routed_scaling_factor;
  }
}

// GPT-OSS: top-k on the raw logits (router bias already included), softmax over the k.
void topk_softmax(const RouterInput& in, RoutingDecision& out, int k) {
  const int E = in.num_experts;
  thread_local std::vector<int32_t> idx;
  idx.resize(size_t(E));
  for (int t = 0; t < in.tokens; ++t) {
    const float* lg = in.logits + size_t(t) * E;
    int32_t* ex = out.experts.data() + size_t(t) * k;
    float* w = out.weights.data() + size_t(t) * k;
    topk(lg, E, k, ex, idx.data());
    const float mx = lg[ex[0]];
    float sum = 0.0f;
    for (int j = 0; j < k; ++j) {
      w[j] = std::exp(lg[ex[j]] - mx);
      sum += w[j];
    }
    for (int j = 0; j < k; ++j) w[j] /= sum;
  }
}

}  // namespace

void route_native(const RouterInput& in, RoutingDecision& out) {
  if (!in.config) throw Error("route_native: RouterInput without a model config");
  const ModelConfig& c = *in.config;
  const int k = std::clamp(c.num_experts_per_tok, 1, std::max(1, in.num_experts));
  out.reset(in.tokens, k);
  switch (c.scoring) {
    case RouterScoring::SoftmaxTopK:
    case RouterScoring::SoftmaxGroupTopK:
      softmax_topk(in, out, k, c.norm_topk_prob || c.family == Family::Mixtral,
                   c.scoring == RouterScoring::SoftmaxGroupTopK);
      break;
    case RouterScoring::SigmoidGroupTopK:
      sigmoid_group_topk(in, out, k);
      break;
    case RouterScoring::TopKSoftmax:
      topk_softmax(in, out, k);
      break;
    case RouterScoring::SparseMixer: {
      // PhimoeTopKRouter -> sparsemixer: always two rounds (the config loader insists on k = 2)
      const int E = in.num_experts;
      for (int t = 0; t < in.tokens; ++t)
        sparsemixer_route(in.logits + size_t(t) * E, E, k, c.router_jitter_noise, nullptr,
                          out.experts.data() + size_t(t) * k, out.weights.data() + size_t(t) * k);
      break;
    }
  }
}

}  // namespace moescope
