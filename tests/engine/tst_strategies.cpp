// Routing strategies (make_strategy): every decision is checked against a reference computed here
// directly from the logits (softmax / sort / count in double), or against route_native, plus the
// invariants of each strategy (capacity bounds, exact expert-choice load, determinism, masks).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "engine/model/model_config.h"
#include "engine/routing/strategy.h"
#include "engine/util/error.h"

using namespace moescope;

namespace {

ModelConfig make_config(Family family, int experts, int k, int layers = 4) {
  ModelConfig c;
  c.family = family;
  c.model_type = family_name(family);
  c.num_layers = layers;
  c.layer_is_moe.assign(layers, true);
  c.num_experts = experts;
  c.num_experts_per_tok = k;
  c.vocab_size = 1000;
  switch (family) {
    case Family::Mixtral: c.scoring = RouterScoring::SoftmaxTopK; break;
    case Family::OLMoE: c.scoring = RouterScoring::SoftmaxTopK; c.norm_topk_prob = false; break;
    case Family::Qwen2Moe:
      c.scoring = RouterScoring::SoftmaxTopK;
      c.norm_topk_prob = false;
      c.num_shared_experts = 1;
      c.shared_intermediate_size = 64;
      c.shared_expert_gate = true;
      break;
    case Family::Qwen3Moe: c.scoring = RouterScoring::SoftmaxTopK; c.norm_topk_prob = true; break;
    case Family::DeepSeekV2:  // DeepSeek-V2 (236B) style: group_limited_greedy, scaled, not renormalised
      c.scoring = RouterScoring::SoftmaxGroupTopK;
      c.n_group = 4;
      c.topk_group = 2;
      c.routed_scaling_factor = 16.0f;
      c.num_shared_experts = 2;
      break;
    case Family::DeepSeekV3:
      c.scoring = RouterScoring::SigmoidGroupTopK;
      c.norm_topk_prob = true;
      c.n_group = 4;
      c.topk_group = 2;
      c.routed_scaling_factor = 2.5f;
      c.score_correction_bias = true;
      c.num_shared_experts = 1;
      break;
    case Family::Ernie45Moe:  // softmax; the choice adds the correction bias; renormalised
      c.scoring = RouterScoring::SoftmaxTopK;
      c.norm_topk_prob = true;
      c.router_norm_min = 1e-12f;
      c.score_correction_bias = true;
      c.num_shared_experts = 2;
      break;
    case Family::Glm4Moe:
      c.scoring = RouterScoring::SigmoidGroupTopK;
      c.norm_topk_prob = true;
      c.score_correction_bias = true;
      break;
    case Family::GptOss: c.scoring = RouterScoring::TopKSoftmax; c.router_bias = true; break;
    case Family::PhiMoE: c.scoring = RouterScoring::SparseMixer; c.router_jitter_noise = 0.2f; break;
    default: break;
  }
  return c;
}

std::vector<float> random_logits(int T, int E, uint32_t seed, float scale = 2.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, scale);
  std::vector<float> v(size_t(T) * E);
  for (float& x : v) x = n(rng);
  return v;
}

struct Batch {
  std::vector<float> logits;
  std::vector<int32_t> positions, ids;
  RouterInput in;
  Batch(const ModelConfig& c, std::vector<float> lg, int first_position, bool prefill, int moe_layer = 0) {
    logits = std::move(lg);
    const int T = int(logits.size()) / c.num_experts;
    for (int t = 0; t < T; ++t) {
      positions.push_back(first_position + t);
      ids.push_back((first_position + t) * 7 % c.vocab_size);
    }
    in.config = &c;
    in.layer = moe_layer;
    in.moe_layer = moe_layer;
    in.tokens = T;
    in.num_experts = c.num_experts;
    in.logits = logits.data();
    in.positions = positions.data();
    in.token_ids = ids.data();
    in.prefill = prefill;
  }
};

std::vector<double> softmax(const float* x, int n, const std::set<int>& removed = {}) {
  double mx = -1e300;
  for (int i = 0; i < n; ++i)
    if (!removed.count(i)) mx = std::max(mx, double(x[i]));
  std::vector<double> p(n, 0.0);
  double s = 0;
  for (int i = 0; i < n; ++i)
    if (!removed.count(i)) s += (p[i] = std::exp(double(x[i]) - mx));
  for (double& v : p) v /= s;
  return p;
}

std::vector<int> argsort_desc(const std::vector<double>& v) {
  std::vector<int> o(v.size());
  std::iota(o.begin(), o.end(), 0);
  std::stable_sort(o.begin(), o.end(), [&](int a, int b) { return v[a] > v[b]; });
  return o;
}

std::vector<int32_t> row_experts(const RoutingDecision& d, int t) {
  std::vector<int32_t> r;
  for (int j = 0; j < d.k_max; ++j)
    if (d.experts[size_t(t) * d.k_max + j] >= 0) r.push_back(d.experts[size_t(t) * d.k_max + j]);
  return r;
}

RoutingDecision run(const std::string& spec, const ModelConfig& c, Batch& b) {
  auto s = make_strategy(spec, c);
  RoutingDecision d;
  s->route(b.in, d);
  return d;
}

// Expected softmax-family top-k, computed from the definition.
void expect_softmax_topk(const ModelConfig& c, const RoutingDecision& d, const std::vector<float>& lg, int k,
                         bool renorm, const std::set<int>& removed = {}) {
  const int E = c.num_experts;
  const int T = int(lg.size()) / E;
  ASSERT_EQ(d.tokens, T);
  ASSERT_EQ(d.k_max, k);
  for (int t = 0; t < T; ++t) {
    auto p = softmax(lg.data() + size_t(t) * E, E, removed);
    auto o = argsort_desc(p);
    double sum = 0;
    for (int j = 0; j < k; ++j) sum += p[o[j]];
    for (int j = 0; j < k; ++j) {
      EXPECT_EQ(d.experts[size_t(t) * k + j], o[j]) << "token " << t << " rank " << j;
      const double w = renorm ? p[o[j]] / sum : p[o[j]];
      EXPECT_NEAR(d.weights[size_t(t) * k + j], w, 1e-5) << "token " << t << " rank " << j;
    }
    EXPECT_EQ(d.dropped[t], 0);
  }
}

}  // namespace

TEST(Strategies, TopKFollowsTheSoftmaxFormulaForEveryK) {
  for (Family f : {Family::Mixtral, Family::OLMoE, Family::Qwen3Moe}) {
    const ModelConfig c = make_config(f, 8, 2);
    for (int k = 1; k <= 8; ++k) {
      Batch b(c, random_logits(20, 8, 100 + k), 0, true);
      RoutingDecision d = run("topk:" + std::to_string(k), c, b);
      expect_softmax_topk(c, d, b.logits, k, f != Family::OLMoE);
    }
  }
}

TEST(Strategies, TopKWithTheNativeKEqualsNative) {
  for (Family f : {Family::Mixtral, Family::OLMoE, Family::Qwen2Moe, Family::Qwen3Moe, Family::DeepSeekV2,
                   Family::DeepSeekV3, Family::Glm4Moe, Family::Ernie45Moe, Family::GptOss}) {
    const ModelConfig c = make_config(f, 16, f == Family::DeepSeekV3 || f == Family::DeepSeekV2 ? 4 : 2);
    std::vector<float> bias(16);
    std::mt19937 rng(5);
    for (float& x : bias) x = std::uniform_real_distribution<float>(-0.3f, 0.3f)(rng);
    TensorRef bias_ref;
    bias_ref.name = "bias";
    bias_ref.shape = {16};
    bias_ref.data = reinterpret_cast<const std::byte*>(bias.data());
    bias_ref.nbytes = bias.size() * 4;
    for (uint32_t seed = 0; seed < 5; ++seed) {
      Batch b(c, random_logits(33, 16, seed), 0, true);
      if (f == Family::DeepSeekV3 || f == Family::Glm4Moe || f == Family::Ernie45Moe) b.in.correction_bias = &bias_ref;
      RoutingDecision native;
      route_native(b.in, native);
      RoutingDecision mine = run("topk:" + std::to_string(c.num_experts_per_tok), c, b);
      ASSERT_EQ(mine.k_max, native.k_max);
      for (int t = 0; t < b.in.tokens; ++t)
        for (int j = 0; j < native.k_max; ++j) {
          const size_t i = size_t(t) * native.k_max + j;
          EXPECT_EQ(mine.experts[i], native.experts[i]) << family_name(f) << " token " << t;
          EXPECT_NEAR(mine.weights[i], native.weights[i], 1e-6) << family_name(f) << " token " << t;
        }
      // the `native` spec itself goes through route_native
      RoutingDecision via_spec = run("native", c, b);
      EXPECT_EQ(via_spec.experts, native.experts);
      EXPECT_EQ(via_spec.weights, native.weights);
    }
  }
}

// Phi-MoE's sparsemixer written out from its definition in double precision: per round, the best logit m among
// the experts still in the running; the others enter the softmax only when (m - s_j) / max(|s_j|, m) <= 2 eps.
void expect_sparsemixer(const ModelConfig& c, const RoutingDecision& d, const std::vector<float>& lg, int k,
                        const std::set<int>& removed = {}) {
  const int E = c.num_experts, T = int(lg.size()) / E;
  const double limit = 2.0 * double(c.router_jitter_noise);
  ASSERT_EQ(d.k_max, k);
  int mixed = 0;
  for (int t = 0; t < T; ++t) {
    const float* s = lg.data() + size_t(t) * E;
    std::set<int> out = removed;
    for (int r = 0; r < k; ++r) {
      int best = -1;
      for (int e = 0; e < E; ++e)
        if (!out.count(e) && (best < 0 || s[e] > s[best])) best = e;
      const double m = s[best];
      double sum = 0;
      int members = 0;
      for (int e = 0; e < E; ++e) {
        if (out.count(e)) continue;
        if ((m - s[e]) / std::max(std::fabs(double(s[e])), m) > limit) continue;
        sum += std::exp(double(s[e]) - m);
        ++members;
      }
      mixed += members > 1;
      EXPECT_EQ(d.experts[size_t(t) * k + r], best) << "token " << t << " round " << r;
      EXPECT_NEAR(d.weights[size_t(t) * k + r], 1.0 / sum, 1e-6) << "token " << t << " round " << r;
      out.insert(best);
    }
  }
  EXPECT_GT(mixed, 0) << "no round had several experts inside the threshold: the softmax part went untested";
  EXPECT_LT(mixed, T * k) << "every round had several experts: the mask went untested";
}

TEST(Strategies, PhiMoeSparseMixerNativeTopKAndMaskFollowTheDefinition) {
  const ModelConfig c = make_config(Family::PhiMoE, 8, 2);
  for (uint32_t seed = 0; seed < 4; ++seed) {
    Batch b(c, random_logits(40, 8, 300 + seed, 1.0f), 0, true);
    RoutingDecision native;
    route_native(b.in, native);
    expect_sparsemixer(c, native, b.logits, 2);
    // more rounds with topk, the same rule; experts masked by `mask` never enter a round's softmax
    expect_sparsemixer(c, run("topk:3", c, b), b.logits, 3);
    RoutingDecision masked = run("mask:*.2", c, b);
    expect_sparsemixer(c, masked, b.logits, 2, {2});
  }
}

TEST(Strategies, DeepSeekTopKUsesCorrectedScoresForChoiceAndSigmoidForWeights) {
  const ModelConfig c = make_config(Family::DeepSeekV3, 16, 3);
  std::vector<float> bias(16, 0.0f);
  bias[15] = 5.0f;  // expert 15 always wins the choice, with its own (uncorrected) sigmoid weight
  TensorRef bias_ref;
  bias_ref.name = "bias";
  bias_ref.shape = {16};
  bias_ref.data = reinterpret_cast<const std::byte*>(bias.data());
  bias_ref.nbytes = 64;
  Batch b(c, random_logits(10, 16, 9), 0, true);
  b.in.correction_bias = &bias_ref;
  RoutingDecision d = run("topk:3", c, b);
  for (int t = 0; t < 10; ++t) {
    const float* lg = b.logits.data() + t * 16;
    std::vector<double> s(16), choice(16);
    for (int e = 0; e < 16; ++e) s[e] = 1.0 / (1.0 + std::exp(-double(lg[e]))), choice[e] = s[e] + bias[e];
    // groups of 4, keep the 2 best by the sum of their top-2 choice scores
    std::vector<double> gs(4);
    for (int g = 0; g < 4; ++g) {
      std::vector<double> v(choice.begin() + g * 4, choice.begin() + g * 4 + 4);
      std::sort(v.rbegin(), v.rend());
      gs[g] = v[0] + v[1];
    }
    auto go = argsort_desc(gs);
    for (int e = 0; e < 16; ++e)
      if (e / 4 != go[0] && e / 4 != go[1]) choice[e] = -INFINITY;
    auto o = argsort_desc(choice);
    EXPECT_EQ(o[0], 15);
    const double sum = s[o[0]] + s[o[1]] + s[o[2]];
    for (int j = 0; j < 3; ++j) {
      EXPECT_EQ(d.experts[t * 3 + j], o[j]);
      EXPECT_NEAR(d.weights[t * 3 + j], s[o[j]] / sum * 2.5, 1e-5);
    }
  }
}

// DeepSeek-V2 group_limited_greedy, written out in double from transformers' DeepseekV2TopkRouter:
// softmax over all experts, group score = the group's largest probability, the topk_group best groups
// keep their probabilities (others 0), top-k, weights = those probabilities * routed_scaling_factor.
std::vector<std::pair<int, double>> deepseek_v2_reference(const ModelConfig& c, const float* lg, int k) {
  const int E = c.num_experts, per = E / c.n_group;
  std::vector<double> p = softmax(lg, E);
  std::vector<double> gs(c.n_group, 0.0);
  for (int e = 0; e < E; ++e) gs[e / per] = std::max(gs[e / per], p[e]);
  const auto go = argsort_desc(gs);
  std::vector<double> masked(E, 0.0);
  for (int e = 0; e < E; ++e)
    if (std::find(go.begin(), go.begin() + c.topk_group, e / per) != go.begin() + c.topk_group) masked[e] = p[e];
  const auto o = argsort_desc(masked);
  std::vector<std::pair<int, double>> out;
  for (int j = 0; j < k && masked[o[j]] > 0.0; ++j) out.emplace_back(o[j], masked[o[j]] * c.routed_scaling_factor);
  return out;
}

TEST(Strategies, DeepSeekV2GroupLimitedGreedyMatchesAReference) {
  const ModelConfig c = make_config(Family::DeepSeekV2, 16, 4);
  int differs_from_plain_topk = 0;
  for (const std::string spec : {"native", "topk:4", "topk:2", "topk:8", "topk:12"}) {
    const int k = spec == "native" ? 4 : std::stoi(spec.substr(5));
    Batch b(c, random_logits(40, 16, 21), 0, true);
    RoutingDecision d = run(spec, c, b);
    for (int t = 0; t < 40; ++t) {
      const auto want = deepseek_v2_reference(c, b.logits.data() + t * 16, k);
      const auto got = row_experts(d, t);
      // 2 of 4 groups of 4 experts: at most 8 experts are eligible, whatever k asks for
      ASSERT_EQ(got.size(), want.size()) << spec << " token " << t;
      for (size_t j = 0; j < want.size(); ++j) {
        EXPECT_EQ(got[j], want[j].first) << spec << " token " << t;
        EXPECT_NEAR(d.weights[t * d.k_max + j], want[j].second, 1e-5) << spec << " token " << t;
      }
      if (spec == "native") {
        auto plain = argsort_desc(softmax(b.logits.data() + t * 16, 16));
        plain.resize(4);
        std::sort(plain.begin(), plain.end());
        std::vector<int> mine(got.begin(), got.end());
        std::sort(mine.begin(), mine.end());
        differs_from_plain_topk += mine != plain;
      }
    }
  }
  EXPECT_GT(differs_from_plain_topk, 0) << "the logits never exercised the group limit";
}

TEST(Strategies, DeepSeekV2TopPNormalisesOverTheKeptGroups) {
  const ModelConfig c = make_config(Family::DeepSeekV2, 16, 4);
  Batch b(c, random_logits(12, 16, 8), 0, true);
  RoutingDecision d = run("topp:0.7", c, b);
  for (int t = 0; t < 12; ++t) {
    const auto kept = deepseek_v2_reference(c, b.logits.data() + t * 16, 16);  // every eligible expert, best first
    double total = 0;
    for (const auto& [e, w] : kept) total += w;
    int n = 0;
    double mass = 0;
    while (n < int(kept.size()) && (n == 0 || mass < 0.7 - 1e-9)) mass += kept[size_t(n++)].second / total;
    const auto got = row_experts(d, t);
    ASSERT_EQ(int(got.size()), n) << "token " << t;
    double wsum = 0;
    for (int j = 0; j < n; ++j) {
      EXPECT_EQ(got[j], kept[size_t(j)].first);
      wsum += d.weights[t * d.k_max + j];
    }
    EXPECT_NEAR(wsum, 16.0, 1e-3);  // renormalised over the set, times routed_scaling_factor
  }
}

// transformers 5's DeepseekV3TopkRouter fills the experts of the dropped groups with -inf: with corrected
// scores below 0 (a strongly negative e_score_correction_bias) they must still never be chosen (a 0.0 fill,
// as in transformers 4.x, would pick them ahead of every kept expert).
TEST(Strategies, DeepSeekV3NeverChoosesExpertsOutsideTheKeptGroups) {
  const ModelConfig c = make_config(Family::DeepSeekV3, 16, 4);  // 4 groups of 4, 2 kept
  std::vector<float> bias(16);
  for (int e = 0; e < 16; ++e) bias[e] = -3.0f + 0.01f * float(e);
  TensorRef bias_ref;
  bias_ref.name = "bias";
  bias_ref.shape = {16};
  bias_ref.data = reinterpret_cast<const std::byte*>(bias.data());
  bias_ref.nbytes = 64;
  for (const std::string spec : {"native", "topk:4", "topk:8"}) {
    Batch b(c, random_logits(30, 16, 13), 0, true);
    b.in.correction_bias = &bias_ref;
    RoutingDecision d = run(spec, c, b);
    for (int t = 0; t < 30; ++t) {
      const float* lg = b.logits.data() + t * 16;
      std::vector<double> gs(4);
      for (int g = 0; g < 4; ++g) {
        std::vector<double> v;
        for (int e = g * 4; e < g * 4 + 4; ++e) v.push_back(1.0 / (1.0 + std::exp(-double(lg[e]))) + bias[e]);
        std::sort(v.rbegin(), v.rend());
        gs[g] = v[0] + v[1];
      }
      const auto go = argsort_desc(gs);
      const auto got = row_experts(d, t);
      EXPECT_EQ(got.size(), spec == "topk:8" ? 8u : 4u) << spec;
      for (int32_t e : got) EXPECT_TRUE(e / 4 == go[0] || e / 4 == go[1]) << spec << " token " << t << " expert " << e;
    }
  }
}

// ERNIE 4.5 (Ernie4_5_MoeTopKRouter) in double: p = softmax(logits); experts ranked by p + bias; weights = the
// chosen p / max(their sum, moe_norm_min).
TEST(Strategies, Ernie45ChoosesOnProbabilityPlusBiasAndRenormalises) {
  const ModelConfig c = make_config(Family::Ernie45Moe, 16, 4);
  std::vector<float> bias(16);
  std::mt19937 rng(3);
  for (float& x : bias) x = std::normal_distribution<float>(0.0f, 0.05f)(rng);
  TensorRef bias_ref;
  bias_ref.name = "bias";
  bias_ref.shape = {1, 16};
  bias_ref.data = reinterpret_cast<const std::byte*>(bias.data());
  bias_ref.nbytes = 64;
  int bias_changed_the_set = 0;
  for (const std::string spec : {"native", "topk:4", "topk:2", "topk:7"}) {
    const int k = spec == "native" ? 4 : std::stoi(spec.substr(5));
    Batch b(c, random_logits(40, 16, 31), 0, true);
    b.in.correction_bias = &bias_ref;
    RoutingDecision d = run(spec, c, b);
    for (int t = 0; t < 40; ++t) {
      const auto p = softmax(b.logits.data() + t * 16, 16);
      std::vector<double> choice(16);
      for (int e = 0; e < 16; ++e) choice[e] = p[e] + bias[e];
      const auto o = argsort_desc(choice);
      double sum = 0;
      for (int j = 0; j < k; ++j) sum += p[o[j]];
      const auto got = row_experts(d, t);
      ASSERT_EQ(int(got.size()), k);
      for (int j = 0; j < k; ++j) {
        EXPECT_EQ(got[j], o[j]) << spec << " token " << t;
        EXPECT_NEAR(d.weights[t * d.k_max + j], p[o[j]] / sum, 1e-5) << spec << " token " << t;
      }
      if (spec == "native") {
        auto plain = argsort_desc(p);
        plain.resize(4);
        std::sort(plain.begin(), plain.end());
        std::vector<int> mine(got.begin(), got.end());
        std::sort(mine.begin(), mine.end());
        bias_changed_the_set += mine != plain;
      }
    }
  }
  EXPECT_GT(bias_changed_the_set, 0) << "the bias never mattered";
}

TEST(Strategies, TopPChoosesTheSmallestSetReachingTheMass) {
  const ModelConfig c = make_config(Family::OLMoE, 8, 2);
  for (double P : {0.1, 0.5, 0.75, 0.9, 1.0}) {
    Batch b(c, random_logits(25, 8, 77), 0, true);
    RoutingDecision d = run("topp:" + std::to_string(P), c, b);
    ASSERT_EQ(d.k_max, 8);
    for (int t = 0; t < 25; ++t) {
      auto p = softmax(b.logits.data() + t * 8, 8);
      auto o = argsort_desc(p);
      int n = 0;
      double mass = 0;
      while (n < 8 && (n == 0 || mass < P - 1e-9)) mass += p[o[n++]];
      auto got = row_experts(d, t);
      ASSERT_EQ(int(got.size()), n) << "P=" << P << " token " << t;
      for (int j = 0; j < n; ++j) {
        EXPECT_EQ(got[j], o[j]);
        EXPECT_NEAR(d.weights[t * 8 + j], p[o[j]] / mass, 1e-5);  // renormalised over the set
      }
    }
  }
}

TEST(Strategies, TopPGivesUncertainTokensMoreExperts) {
  const ModelConfig c = make_config(Family::Mixtral, 8, 2);
  std::vector<float> lg(16, 0.0f);                        // token 0: flat router (uncertain)
  for (int e = 0; e < 8; ++e) lg[8 + e] = e == 3 ? 8.0f : 0.0f;  // token 1: peaked on expert 3
  Batch b(c, lg, 0, true);
  RoutingDecision d = run("topp:0.6", c, b);
  EXPECT_EQ(row_experts(d, 0).size(), 5u);  // 5 * 1/8 = 0.625 >= 0.6
  EXPECT_EQ(row_experts(d, 1), std::vector<int32_t>{3});
}

TEST(Strategies, TopPOnSigmoidScoresNormalisesOverTheKeptGroups) {
  ModelConfig c = make_config(Family::DeepSeekV3, 16, 4);
  c.n_group = 1;
  c.topk_group = 1;
  Batch b(c, random_logits(12, 16, 4), 0, true);
  RoutingDecision d = run("topp:0.5", c, b);
  for (int t = 0; t < 12; ++t) {
    std::vector<double> s(16);
    double total = 0;
    for (int e = 0; e < 16; ++e) total += (s[e] = 1.0 / (1.0 + std::exp(-double(b.logits[t * 16 + e]))));
    auto o = argsort_desc(s);
    int n = 0;
    double mass = 0;
    while (mass < 0.5 - 1e-9) mass += s[o[n++]] / total;
    auto got = row_experts(d, t);
    ASSERT_EQ(int(got.size()), n);
    double wsum = 0;
    for (int j = 0; j < n; ++j) {
      EXPECT_EQ(got[j], o[j]);
      wsum += d.weights[t * 16 + j];
    }
    EXPECT_NEAR(wsum, 2.5, 1e-4);  // routed_scaling_factor
  }
}

// Hand-worked example from docs/strategies.md: E=4, k=2, T=4, CF=0.5 -> C=1.
// Choices (rank 0, rank 1): t0 (0,1), t1 (2,0), t2 (0,3), t3 (1,2).
static std::vector<float> capacity_example_logits() {
  const int choice[4][2] = {{0, 1}, {2, 0}, {0, 3}, {1, 2}};
  std::vector<float> lg(16, -2.0f);
  for (int t = 0; t < 4; ++t) lg[t * 4 + choice[t][0]] = 3.0f, lg[t * 4 + choice[t][1]] = 1.0f;
  return lg;
}

TEST(Strategies, CapacityOverflowDropsInGShardArrivalOrder) {
  const ModelConfig c = make_config(Family::Mixtral, 4, 2);
  Batch b(c, capacity_example_logits(), 0, true);
  RoutingDecision d = run("topk:2+capacity:0.5", c, b);
  // rank-0 pass: t0->0, t1->2, t2->0 (full), t3->1; rank-1 pass: t0->1 (full), t1->0 (full), t2->3, t3->2 (full)
  const std::vector<int32_t> expected = {0, -1, 2, -1, -1, 3, 1, -1};
  EXPECT_EQ(d.experts, expected);
  EXPECT_EQ(d.dropped, (std::vector<uint8_t>{0, 0, 0, 0}));
  EXPECT_EQ(d.weights[1], 0.0f);
  // kept experts keep their top-k weight (no renormalisation after the drop)
  auto p = softmax(b.logits.data(), 4);
  EXPECT_NEAR(d.weights[0], p[0] / (p[0] + p[1]), 1e-6);
}

TEST(Strategies, CapacityEndDropsTowardTheEndOfTheSequence) {
  const ModelConfig c = make_config(Family::Mixtral, 4, 2);
  Batch b(c, capacity_example_logits(), 0, true);
  RoutingDecision d = run("topk:2+capacity:0.5:end", c, b);
  // token by token: t0 keeps 0,1; t1 keeps 2 loses 0; t2 loses 0 keeps 3; t3 loses 1 and 2 -> dropped
  const std::vector<int32_t> expected = {0, 1, 2, -1, -1, 3, -1, -1};
  EXPECT_EQ(d.experts, expected);
  EXPECT_EQ(d.dropped, (std::vector<uint8_t>{0, 0, 0, 1}));
}

TEST(Strategies, CapacityNeverExceedsCOnRandomBatches) {
  for (Family f : {Family::Mixtral, Family::OLMoE, Family::GptOss}) {
    const ModelConfig c = make_config(f, 8, 2);
    std::mt19937 rng(3);
    for (int trial = 0; trial < 30; ++trial) {
      const int T = 1 + int(rng() % 40);
      const double cf = 0.25 + 0.25 * (rng() % 8);
      for (const char* policy : {"overflow", "end"}) {
        Batch b(c, random_logits(T, 8, 1000 + trial, 3.0f), 0, true);
        char spec[64];
        std::snprintf(spec, sizeof spec, "capacity:%g:%s", cf, policy);
        RoutingDecision d = run(spec, c, b);
        RoutingDecision plain = run("native", c, b);
        const int C = int(std::ceil(cf * T * 2 / 8));
        std::vector<int> load(8, 0);
        int kept = 0;
        for (int t = 0; t < T; ++t) {
          bool any = false;
          for (int j = 0; j < 2; ++j) {
            const int e = d.experts[t * 2 + j];
            if (e < 0) continue;
            EXPECT_EQ(e, plain.experts[t * 2 + j]);  // a kept slot is the native choice at that rank
            ++load[e], ++kept, any = true;
          }
          EXPECT_EQ(d.dropped[t], any ? 0 : 1);
        }
        for (int e = 0; e < 8; ++e) EXPECT_LE(load[e], C) << spec << " T=" << T;
        // work-conserving: an assignment is dropped only when its expert is full
        for (int t = 0; t < T; ++t)
          for (int j = 0; j < 2; ++j)
            if (d.experts[t * 2 + j] < 0) EXPECT_EQ(load[plain.experts[t * 2 + j]], C) << spec;
        EXPECT_LE(kept, 2 * T);
      }
    }
  }
}

// Decode: capacity counted over the window of the last W tokens, W=4, CF=2, k=1, E=4 -> C=2.
TEST(Strategies, CapacityDecodeWindowAndRewind) {
  const ModelConfig c = make_config(Family::Mixtral, 4, 1);
  auto s = make_strategy("capacity:2:overflow:4", c);
  EXPECT_EQ(s->spec(), "native+capacity:2:overflow:4");
  std::vector<float> prefer0 = {5, 0, 0, 0};
  auto decode = [&](int pos) {
    Batch b(c, prefer0, pos, false);
    RoutingDecision d;
    s->route(b.in, d);
    return d.experts[0];
  };
  // p0 keep, p1 keep, p2/p3 full (2 in window), p4 window {1,2,3} holds one -> keep, p5 {2,3,4} -> keep,
  // p6 {3,4,5} holds two -> drop
  const std::vector<int> expected = {0, 0, -1, -1, 0, 0, -1};
  for (int pos = 0; pos < 7; ++pos) EXPECT_EQ(decode(pos), expected[pos]) << "position " << pos;
  // rewind to 2 tokens: the window state of positions >= 2 is forgotten
  s->rewind(2);
  EXPECT_EQ(decode(2), -1);  // p0, p1 kept expert 0
  s->rewind(1);
  EXPECT_EQ(decode(1), 0);   // only p0 in the window
  s->reset();
  EXPECT_EQ(decode(0), 0);
}

// Default decode window = max(prompt length, 32). E=4, k=1, CF=1.
TEST(Strategies, CapacityWindowDefaultsToThePromptLength) {
  const ModelConfig c = make_config(Family::Mixtral, 4, 1);
  auto s = make_strategy("capacity:1", c);
  // prompt of 40: 31 tokens prefer expert 1, then 9 prefer expert 0; C = ceil(40/4) = 10
  std::vector<float> lg;
  for (int t = 0; t < 40; ++t) lg.insert(lg.end(), {t < 31 ? 0.f : 5.f, t < 31 ? 5.f : 0.f, 0, 0});
  Batch p(c, lg, 0, true);
  RoutingDecision d;
  s->route(p.in, d);
  int kept1 = 0, kept0 = 0;
  for (int t = 0; t < 40; ++t) kept1 += d.experts[t] == 1, kept0 += d.experts[t] == 0;
  EXPECT_EQ(kept1, 10);  // tokens 0..9
  EXPECT_EQ(kept0, 9);
  EXPECT_EQ(d.dropped[10], 1);
  // W = 40, C = 10: position 40 sees 9 kept expert-0 tokens in 1..39 -> keep; position 41 sees 10 -> drop
  // (W = 32 would drop at 40, W = 128 would keep at 41)
  Batch b(c, {5, 0, 0, 0}, 40, false);
  s->route(b.in, d);
  EXPECT_EQ(d.experts[0], 0);
  Batch b2(c, {5, 0, 0, 0}, 41, false);
  s->route(b2.in, d);
  EXPECT_EQ(d.experts[0], -1);
  EXPECT_EQ(d.dropped[0], 1);
}

TEST(Strategies, CapacityWindowHasAFloorForShortPrompts) {
  const ModelConfig c = make_config(Family::Mixtral, 4, 1);
  auto s = make_strategy("capacity:1", c);
  std::vector<float> lg;
  for (int t = 0; t < 4; ++t) lg.insert(lg.end(), {5, 0, 0, 0});
  Batch p(c, lg, 0, true);
  RoutingDecision d;
  s->route(p.in, d);  // C = ceil(4/4) = 1: token 0 keeps expert 0, tokens 1..3 are dropped
  EXPECT_EQ(d.dropped, (std::vector<uint8_t>{0, 1, 1, 1}));
  // decoding: W = 32, C = 8 -> positions 4..10 join the one kept prompt token, position 11 is dropped
  for (int pos = 4; pos <= 11; ++pos) {
    Batch b(c, {5, 0, 0, 0}, pos, false);
    s->route(b.in, d);
    EXPECT_EQ(d.experts[0], pos <= 10 ? 0 : -1) << "position " << pos;
  }
}

TEST(Strategies, ExpertChoiceLoadIsExactlyCAndPicksTheTopScores) {
  const ModelConfig c = make_config(Family::Qwen3Moe, 4, 2);
  const int T = 12, E = 4;
  Batch b(c, random_logits(T, E, 21), 0, true);
  RoutingDecision d = run("expert-choice:1", c, b);  // C = ceil(1*12*2/4) = 6
  ASSERT_EQ(d.k_max, E);
  std::vector<std::vector<double>> p(T);
  for (int t = 0; t < T; ++t) p[t] = softmax(b.logits.data() + t * E, E);
  for (int e = 0; e < E; ++e) {
    std::vector<double> col(T);
    for (int t = 0; t < T; ++t) col[t] = p[t][e];
    auto o = argsort_desc(col);
    std::set<int> expected(o.begin(), o.begin() + 6), got;
    for (int t = 0; t < T; ++t) {
      auto r = row_experts(d, t);
      if (std::find(r.begin(), r.end(), e) != r.end()) got.insert(t);
    }
    EXPECT_EQ(got, expected) << "expert " << e;
  }
  for (int t = 0; t < T; ++t) {
    auto r = row_experts(d, t);
    EXPECT_EQ(d.dropped[t], r.empty() ? 1 : 0);
    for (size_t j = 0; j < r.size(); ++j) {
      EXPECT_NEAR(d.weights[t * E + j], p[t][r[j]], 1e-6);  // weight = the token's softmax score
      if (j) EXPECT_GE(p[t][r[j - 1]], p[t][r[j]]);          // ranked by score
    }
  }
}

TEST(Strategies, ExpertChoiceCapsCAtTheBatchLength) {
  const ModelConfig c = make_config(Family::Mixtral, 4, 2);
  Batch b(c, random_logits(3, 4, 2), 0, true);
  RoutingDecision d = run("expert-choice:4", c, b);  // ceil(4*3*2/4)=6 > T=3: every expert takes all
  for (int t = 0; t < 3; ++t) EXPECT_EQ(row_experts(d, t).size(), 4u);
}

// Decode: each expert takes the new token when fewer than C window tokens score it at least as high.
// E=2, k=1, W=2, CF=1 -> C=1; window = the previous token only.
TEST(Strategies, ExpertChoiceDecodeWindow) {
  const ModelConfig c = make_config(Family::Mixtral, 2, 1);
  auto s = make_strategy("expert-choice:1:2", c);
  const float p0[3] = {0.9f, 0.8f, 0.95f};  // each token's softmax probability of expert 0
  const std::vector<std::vector<int32_t>> expected = {{0, 1}, {1}, {0}};
  for (int t = 0; t < 3; ++t) {
    Batch b(c, {std::log(p0[t]), std::log(1.0f - p0[t])}, t, false);
    RoutingDecision d;
    s->route(b.in, d);
    EXPECT_EQ(row_experts(d, 0), expected[t]) << "position " << t;
  }
  // t1 scored e0 lower than t0 and e1 higher: rewinding to 1 and replaying gives the same answer
  s->rewind(1);
  Batch b(c, {std::log(p0[1]), std::log(1.0f - p0[1])}, 1, false);
  RoutingDecision d;
  s->route(b.in, d);
  EXPECT_EQ(row_experts(d, 0), expected[1]);
}

TEST(Strategies, EveryStrategyIsDeterministic) {
  const ModelConfig c = make_config(Family::Qwen2Moe, 8, 2);
  for (const char* spec : {"native", "topk:3", "topp:0.7", "expert-choice:1.5", "random:11", "hash",
                           "topk:2+capacity:0.75", "capacity:1:end:5+mask:*.1", "no-shared+topp:0.9"}) {
    RoutingDecision out[2];
    for (auto& d : out) {
      auto s = make_strategy(spec, c);
      Batch prompt(c, random_logits(9, 8, 42), 0, true);
      s->route(prompt.in, d);
      for (int pos = 9; pos < 14; ++pos) {  // then decode, appending rows
        Batch one(c, random_logits(1, 8, 100 + pos), pos, false);
        RoutingDecision step;
        s->route(one.in, step);
        d.experts.insert(d.experts.end(), step.experts.begin(), step.experts.end());
        d.weights.insert(d.weights.end(), step.weights.begin(), step.weights.end());
        d.dropped.insert(d.dropped.end(), step.dropped.begin(), step.dropped.end());
      }
    }
    EXPECT_EQ(out[0].experts, out[1].experts) << spec;
    EXPECT_EQ(out[0].weights, out[1].weights) << spec;
    EXPECT_EQ(out[0].dropped, out[1].dropped) << spec;
  }
}

TEST(Strategies, RandomIsDeterministicUniformAndIndependentOfBatching) {
  const ModelConfig c = make_config(Family::Mixtral, 8, 2);
  Batch b(c, random_logits(64, 8, 1), 0, true);
  RoutingDecision a = run("random:7", c, b), a2 = run("random:7", c, b), other = run("random:8", c, b);
  EXPECT_EQ(a.experts, a2.experts);
  EXPECT_NE(a.experts, other.experts);
  std::vector<int> count(8, 0);
  for (int t = 0; t < 64; ++t) {
    EXPECT_NE(a.experts[t * 2], a.experts[t * 2 + 1]);
    for (int j = 0; j < 2; ++j) {
      ++count[a.experts[t * 2 + j]];
      EXPECT_FLOAT_EQ(a.weights[t * 2 + j], 0.5f);
    }
  }
  for (int e = 0; e < 8; ++e) EXPECT_GT(count[e], 4) << "expert " << e;  // 16 expected each
  // one token at a time gives the same draws
  auto s = make_strategy("random:7", c);
  for (int t = 0; t < 64; ++t) {
    Batch one(c, std::vector<float>(b.logits.begin() + t * 8, b.logits.begin() + t * 8 + 8), t, false);
    RoutingDecision d;
    s->route(one.in, d);
    EXPECT_EQ(d.experts[0], a.experts[t * 2]);
    EXPECT_EQ(d.experts[1], a.experts[t * 2 + 1]);
  }
  // softmax weights: router probabilities renormalised over the drawn experts
  RoutingDecision sm = run("random:7:softmax", c, b);
  EXPECT_EQ(sm.experts, a.experts);
  for (int t = 0; t < 64; ++t) {
    auto p = softmax(b.logits.data() + t * 8, 8);
    const int e0 = sm.experts[t * 2], e1 = sm.experts[t * 2 + 1];
    EXPECT_NEAR(sm.weights[t * 2], p[e0] / (p[e0] + p[e1]), 1e-6);
  }
}

TEST(Strategies, HashDependsOnlyOnTokenIdAndLayer) {
  const ModelConfig c = make_config(Family::Mixtral, 8, 1);
  auto s = make_strategy("hash", c);
  std::map<int, int32_t> seen;
  int differs_by_layer = 0;
  for (int t = 0; t < 50; ++t) {
    Batch b(c, random_logits(1, 8, t), t, false);
    const int id = t % 5;
    b.ids[0] = id;
    RoutingDecision d;
    s->route(b.in, d);
    if (seen.count(id)) EXPECT_EQ(d.experts[0], seen[id]) << "token id " << id;
    seen[id] = d.experts[0];
    EXPECT_FLOAT_EQ(d.weights[0], 1.0f);
    Batch b1(c, random_logits(1, 8, t), t, false, 1);
    b1.ids[0] = id;
    RoutingDecision d1;
    s->route(b1.in, d1);
    differs_by_layer += d1.experts[0] != d.experts[0];
  }
  EXPECT_GT(differs_by_layer, 0);
  EXPECT_EQ(make_strategy("hash:3", c)->spec(), "hash:3");
}

TEST(Strategies, MaskRemovesTheExpertAndRenormalisesOverTheRest) {
  for (Family f : {Family::Mixtral, Family::OLMoE}) {
    const ModelConfig c = make_config(f, 8, 2);
    auto s = make_strategy("topk:1+mask:1.3,1.5", c);
    EXPECT_EQ(s->spec(), "topk:1+mask:1.3,1.5");
    std::vector<float> lg = random_logits(30, 8, 11);
    for (int t = 0; t < 30; ++t) lg[t * 8 + 3] = 9.0f;  // expert 3 would win everywhere
    Batch layer0(c, lg, 0, true, 0), layer1(c, lg, 0, true, 1);
    RoutingDecision d0, d1;
    s->route(layer0.in, d0);
    s->route(layer1.in, d1);
    for (int t = 0; t < 30; ++t) EXPECT_EQ(d0.experts[t], 3);
    expect_softmax_topk(c, d1, lg, 1, f != Family::OLMoE, {3, 5});
    // native + mask: the native k over the unmasked experts, the family's renormalisation
    RoutingDecision n1;
    make_strategy("mask:*.3", c)->route(layer1.in, n1);
    expect_softmax_topk(c, n1, lg, 2, f != Family::OLMoE, {3});
  }
}

TEST(Strategies, NoSharedTurnsTheSharedExpertOff) {
  const ModelConfig q = make_config(Family::Qwen2Moe, 8, 2);
  Batch b(q, random_logits(4, 8, 1), 0, true);
  RoutingDecision d = run("no-shared", q, b), n = run("native", q, b);
  EXPECT_FALSE(d.shared_enabled);
  EXPECT_TRUE(n.shared_enabled);
  EXPECT_EQ(d.experts, n.experts);
  EXPECT_EQ(make_strategy("topk:1+no-shared", q)->spec(), "topk:1+no-shared");
  const ModelConfig m = make_config(Family::Mixtral, 8, 2);
  EXPECT_THROW(make_strategy("no-shared", m), Error);
}

TEST(Strategies, CompositionAppliesMaskBeforeSelectionAndCapacityAfter) {
  const ModelConfig c = make_config(Family::Mixtral, 4, 1);
  std::vector<float> lg;
  for (int t = 0; t < 8; ++t) lg.insert(lg.end(), {5, 4, 0, 0});
  Batch b(c, lg, 0, true);
  // expert 0 masked: everyone picks 1; capacity C = ceil(1*8*1/4) = 2 then drops the other 6
  for (const char* spec : {"topk:1+mask:0.0+capacity:1", "capacity:1+mask:0.0+topk:1"}) {
    auto s = make_strategy(spec, c);
    EXPECT_EQ(s->spec(), "topk:1+mask:0.0+capacity:1");
    RoutingDecision d;
    s->route(b.in, d);
    EXPECT_EQ(d.experts, (std::vector<int32_t>{1, 1, -1, -1, -1, -1, -1, -1}));
    EXPECT_EQ(std::count(d.dropped.begin(), d.dropped.end(), 1), 6);
  }
  EXPECT_EQ(make_strategy("native", c)->max_experts_per_token(), 1);
  EXPECT_EQ(make_strategy("topp:0.5", c)->max_experts_per_token(), 4);
}

TEST(Strategies, BadSpecsAreErrorsNamingTheSpec) {
  ModelConfig c = make_config(Family::Mixtral, 8, 2, 4);
  c.layer_is_moe = {false, true, true, true};
  const std::vector<std::string> bad = {
      "", "topk:0", "topk:99", "topk:9", "topk", "topk:2x", "topk:2:", "topk:1.5", "topp:1.5", "topp:0",
      "topp:-0.1", "topp:nan", "capacity:0", "capacity:-1", "capacity:1:middle", "capacity:1:end:0",
      "capacity:1+capacity:2", "expert-choice:0", "expert-choice:1+capacity:1", "mask:7.0", "mask:-1.0",
      "mask:1.8", "mask:0.1", "mask:1", "mask:1.a", "mask:x.1",
      "mask:1.0,1.1,1.2,1.3,1.4,1.5,1.6,1.7", "topk:2+mask:*.0,*.1,*.2,*.3,*.4,*.5,*.6", "foo", "native:1",
      "topk:1+topp:0.5", "native+", "+native", "native++topk:1", "random:x", "random:1:uniformly", "hash:0",
      "no-shared", "topk:2 ", "Topk:2"};
  for (const std::string& spec : bad) {
    try {
      make_strategy(spec, c);
      ADD_FAILURE() << "accepted '" << spec << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'" + spec + "'"), std::string::npos) << e.what();
    }
  }
  for (const std::string& spec : {"native", "topk:8", "topp:1", "capacity:1.25:end", "expert-choice:2:64",
                                  "random:3", "hash", "mask:*.7", "topk:1+mask:1.0,1.1,1.2,1.3,1.4,1.5,1.6"})
    EXPECT_NO_THROW(make_strategy(spec, c)) << spec;
}

// ---- through the engine: fixture checkpoints, a Session, and a sink that keeps every decision ----

#include "engine/probe/probe_sink.h"
#include "engine/session/session.h"
#include "tests/support/fixtures.h"

namespace {

// Last decision seen for each (position, MoE layer): a rewind-and-recompute overwrites it.
struct DecisionLog : ProbeSink {
  std::map<std::pair<int, int>, std::vector<int32_t>> experts;
  std::map<std::pair<int, int>, uint8_t> dropped;
  void on_routing(const RoutingBatch& b) override {
    for (int t = 0; t < b.tokens; ++t) {
      const int K = b.decision->k_max;
      const auto key = std::make_pair(int(b.positions[t]), b.moe_layer);
      experts[key] = std::vector<int32_t>(b.decision->experts.begin() + size_t(t) * K,
                                          b.decision->experts.begin() + size_t(t + 1) * K);
      dropped[key] = b.decision->dropped[t];
    }
  }
};

struct Generated {
  std::vector<int32_t> tokens;
  std::vector<float> logits;
  DecisionLog log;
};

void generate(Session& s, const std::string& spec, int steps, Generated& g) {
  s.set_strategy(spec);
  s.set_prompt_ids({3, 17, 42, 5, 99, 7});
  s.add_sink(&g.log);
  s.prefill();
  s.run(steps, false);
  s.remove_sink(&g.log);
  g.tokens = s.tokens();
  g.logits = s.last_logits();
}

std::unique_ptr<Session> open_fixture(const std::string& family) {
  SessionOptions o;
  o.threads = 2;
  return Session::open(test::model_fixture(family), o);
}

}  // namespace

TEST(StrategiesInSession, TopKWithTheNativeKReproducesNativeGeneration) {
  for (const char* family : {"mixtral", "olmoe", "qwen2_moe", "qwen3_moe", "deepseek_v3", "gpt_oss"}) {
    auto s = open_fixture(family);
    const int k = s->model().config().num_experts_per_tok;
    Generated native, topk;
    generate(*s, "native", 6, native);
    generate(*s, "topk:" + std::to_string(k), 6, topk);
    EXPECT_EQ(native.tokens, topk.tokens) << family;
    EXPECT_EQ(native.logits, topk.logits) << family;
    EXPECT_EQ(native.log.experts, topk.log.experts) << family;
  }
}

TEST(StrategiesInSession, MaskedExpertsAreNeverChosenBySelections) {
  auto s = open_fixture("deepseek_v3");
  EXPECT_THROW(s->set_strategy("mask:0.1"), Error);  // layer 0 is dense (first_k_dense_replace)
  for (const char* spec : {"mask:*.0,2.3", "topk:3+mask:*.0,2.3", "topp:0.9+mask:*.0,2.3",
                           "expert-choice:1+mask:*.0,2.3", "random:5+mask:*.0,2.3", "hash+mask:*.0,2.3"}) {
    Generated g;
    generate(*s, spec, 5, g);
    int used = 0;
    for (const auto& [key, row] : g.log.experts)
      for (int32_t e : row) {
        EXPECT_NE(e, 0) << spec;
        if (key.second == 1) EXPECT_NE(e, 3) << spec;  // model layer 2 is MoE layer 1
        used += e >= 0;
      }
    EXPECT_GT(used, 0) << spec;
  }
}

TEST(StrategiesInSession, NoSharedChangesTheOutputNotTheFirstRouting) {
  auto s = open_fixture("qwen2_moe");
  Generated on, off;
  generate(*s, "native", 0, on);
  generate(*s, "no-shared", 0, off);
  for (int p = 0; p < 6; ++p) EXPECT_EQ(on.log.experts[std::make_pair(p, 0)], off.log.experts[std::make_pair(p, 0)]);
  double diff = 0;
  for (size_t i = 0; i < on.logits.size(); ++i) diff += std::fabs(on.logits[i] - off.logits[i]);
  EXPECT_GT(diff, 1e-3);
}

TEST(StrategiesInSession, RewindTruncatesCapacityAndExpertChoiceWindows) {
  for (const char* spec : {"capacity:1:overflow:4", "topk:1+capacity:0.5:end:3", "expert-choice:1:4"}) {
    auto s = open_fixture("olmoe");
    Generated first;
    generate(*s, spec, 10, first);
    // replay from position 9: the session recomputes position 8 and regenerates the rest
    s->add_sink(&first.log);
    const auto before = first.log.experts;
    const auto dropped_before = first.log.dropped;
    s->rewind(9);
    s->run(7, false);
    s->remove_sink(&first.log);
    EXPECT_EQ(s->tokens(), first.tokens) << spec;
    EXPECT_EQ(first.log.experts, before) << spec;
    EXPECT_EQ(first.log.dropped, dropped_before) << spec;
    int dropped = 0;
    for (const auto& [key, d] : dropped_before) dropped += d;
    if (std::string(spec).find("0.5") != std::string::npos) EXPECT_GT(dropped, 0) << spec;
  }
}

namespace {

// Prefill on several threads runs whole experts in parallel (cpu_moe.cpp), or expert by expert when one
// expert takes most tokens; either way every value must be the same to the bit as on one thread, under
// strategies that drop tokens, leave experts empty, send many tokens to one expert or skip the shared one.
TEST(StrategiesInSession, ResultsDoNotDependOnThreadCount) {
  std::vector<int32_t> prompt;
  for (int i = 0; i < 40; ++i) prompt.push_back(int32_t(3 + (i * 37) % 97));
  for (const char* family : {"mixtral", "olmoe", "qwen2_moe", "deepseek_v3"})
    for (const char* spec : {"native", "topk:1", "capacity:0.5", "expert-choice:1", "hash", "random:3", "topp:0.5",
                             "no-shared"}) {
      SCOPED_TRACE(testing::Message() << family << " " << spec);
      std::vector<float> logits[2];
      std::vector<int32_t> tokens[2];
      for (int run = 0; run < 2; ++run) {
        SessionOptions o;
        o.threads = run == 0 ? 1 : 3;
        auto s = Session::open(test::model_fixture(family), o);
        try {
          s->set_strategy(spec);
        } catch (const Error&) {
          break;  // not applicable to this model (no shared expert)
        }
        s->set_prompt_ids(prompt);
        s->prefill();
        s->run(3, false);
        logits[run] = s->last_logits();
        tokens[run] = s->tokens();
      }
      EXPECT_EQ(tokens[0], tokens[1]);
      EXPECT_EQ(logits[0], logits[1]);
    }
}

}  // namespace
