// Comparison metrics (probes/comparison) on small hand-made runs whose Jaccard, agreement, load
// divergence, dropped fraction, KL and perplexity are worked out here from their definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/util/error.h"
#include "probes/comparison/comparison.h"
#include "probes/comparison/comparison_h5.h"
#include "probes/comparison/comparison_json.h"
#include "probes/trace/h5_util.h"
#include "tests/support/fixtures.h"

using namespace moescope;

namespace {

constexpr int M = 2, E = 4, K = 2, V = 10;

RunData make_run(const std::string& name, std::vector<int64_t> ids, std::vector<int32_t> experts,
                 std::vector<uint8_t> dropped, uint32_t logit_seed, int prompt_len = 2) {
  RunData r;
  r.name = name;
  r.strategy = "s" + name;
  r.num_experts = E;
  r.k_max = K;
  r.vocab_size = V;
  r.moe_layers = {1, 3};
  r.token_ids = ids;
  const int N = int(ids.size());
  r.token_text.assign(N, "x");
  for (int t = 0; t < N; ++t) r.is_prompt.push_back(t < prompt_len ? 1 : 0);
  r.router_logits.assign(size_t(N) * M * E, 0.0f);
  r.experts = std::move(experts);
  r.weights.assign(r.experts.size(), 0.5f);
  r.dropped = std::move(dropped);
  std::mt19937 rng(logit_seed);
  std::normal_distribution<float> nd(0, 2);
  r.next_logits.resize(size_t(N) * V);
  for (float& x : r.next_logits) x = nd(rng);
  return r;
}

// Routing of the worked example (rows [t][layer][K]).
RunData run_a() {
  return make_run("0", {1, 2, 3},
                  {0, 1, 2, 3,  //
                   0, 1, 1, -1,  //
                   3, -1, 0, 1},
                  {0, 0, 0, 0, 0, 0}, 11);
}
RunData run_b() {
  return make_run("1", {1, 2, 4},
                  {1, 0, 2, 0,  //
                   0, 1, -1, -1,  //
                   3, 2, 1, 0},
                  {0, 0, 0, 1, 0, 0}, 12);
}

std::vector<double> log_softmax(const float* x) {
  double mx = x[0];
  for (int i = 1; i < V; ++i) mx = std::max(mx, double(x[i]));
  double s = 0;
  for (int i = 0; i < V; ++i) s += std::exp(x[i] - mx);
  std::vector<double> o(V);
  for (int i = 0; i < V; ++i) o[i] = x[i] - mx - std::log(s);
  return o;
}

}  // namespace

TEST(Comparison, RoutingMetricsOfTheWorkedExample) {
  const RunData a = run_a(), b = run_b();
  ComparisonResult r = compare_runs({&a, &b}, false);
  ASSERT_EQ(r.pairs.size(), 1u);
  const PairComparison& p = r.pairs[0];
  EXPECT_EQ(p.positions, 3);
  EXPECT_EQ(p.first_divergence, 2);
  // Jaccard per (t, layer): {0,1}v{1,0}=1, {2,3}v{2,0}=1/3, 1, {1}v{}=0, {3}v{3,2}=1/2, {0,1}v{1,0}=1
  const std::vector<float> jac = {1.f, 1.f / 3, 1.f, 0.f, 0.5f, 1.f};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(p.jaccard[i], jac[i], 1e-6) << i;
  // top-1 expert used: 0v1, 2v2, 0v0, 1v(none), 3v3, 0v1
  EXPECT_EQ(p.top1_expert_agree, (std::vector<uint8_t>{0, 1, 1, 0, 1, 0}));
  EXPECT_NEAR(p.layer_jaccard[0], (1 + 1 + 0.5) / 3, 1e-9);
  EXPECT_NEAR(p.layer_jaccard[1], (1.0 / 3 + 0 + 1) / 3, 1e-6);
  EXPECT_NEAR(p.layer_top1_expert_agreement[0], 2.0 / 3, 1e-9);
  EXPECT_NEAR(p.layer_top1_expert_agreement[1], 1.0 / 3, 1e-9);
  EXPECT_NEAR(p.top1_expert_agreement, 0.5, 1e-9);
  // layer 0 loads: A {2,2,0,1}/5, B {2,2,1,1}/6
  const double pa[4] = {0.4, 0.4, 0.0, 0.2}, pb[4] = {2 / 6.0, 2 / 6.0, 1 / 6.0, 1 / 6.0};
  double js = 0;
  for (int e = 0; e < 4; ++e) {
    const double m = 0.5 * (pa[e] + pb[e]);
    if (pa[e] > 0) js += 0.5 * pa[e] * std::log(pa[e] / m);
    js += 0.5 * pb[e] * std::log(pb[e] / m);
  }
  EXPECT_NEAR(p.layer_load_js[0], js, 1e-9);
  EXPECT_NEAR(p.layer_dropped_a[1], 0.0, 1e-12);
  EXPECT_NEAR(p.layer_dropped_b[1], 1.0 / 3, 1e-12);
  EXPECT_NEAR(r.runs[1].dropped_fraction, 1.0 / 6, 1e-12);
  EXPECT_NEAR(r.runs[0].load[0 * E + 0], 0.4, 1e-12);
}

TEST(Comparison, OutputMetricsFromTheLogits) {
  const RunData a = run_a(), b = run_b();
  ComparisonResult r = compare_runs({&a, &b}, false);
  const PairComparison& p = r.pairs[0];
  ASSERT_TRUE(p.has_logits);
  double kl_sum = 0, agree = 0;
  for (int t = 0; t < 3; ++t) {
    auto la = log_softmax(a.next_logits.data() + t * V), lb = log_softmax(b.next_logits.data() + t * V);
    double kl = 0;
    int ia = 0, ib = 0;
    for (int v = 0; v < V; ++v) {
      kl += std::exp(la[v]) * (la[v] - lb[v]);
      if (la[v] > la[ia]) ia = v;
      if (lb[v] > lb[ib]) ib = v;
    }
    EXPECT_NEAR(p.kl[t], kl, 1e-9);
    EXPECT_EQ(p.top1_token_agree[t], ia == ib ? 1 : 0);
    kl_sum += kl;
    agree += ia == ib;
  }
  EXPECT_NEAR(p.kl_mean, kl_sum / 3, 1e-9);
  EXPECT_NEAR(p.top1_token_agreement, agree / 3, 1e-12);
  // perplexity over the continuation: token 2 (prompt length 2), predicted by row 1
  const double lpa = log_softmax(a.next_logits.data() + V)[3];
  EXPECT_NEAR(r.runs[0].perplexity, std::exp(-lpa), 1e-9);
  EXPECT_EQ(r.runs[0].scored_tokens, 1);
  // nothing generated: the prompt's tokens 1..N-1
  RunData whole = run_a();
  whole.is_prompt = {1, 1, 1};
  ComparisonResult w = compare_runs({&whole}, true);
  const double l1 = log_softmax(whole.next_logits.data())[2], l2 = log_softmax(whole.next_logits.data() + V)[3];
  EXPECT_NEAR(w.runs[0].perplexity, std::exp(-(l1 + l2) / 2), 1e-9);
}

TEST(Comparison, IdenticalRunsAgreeCompletely) {
  const RunData a = run_a();
  RunData a2 = run_a();
  a2.name = "1";
  ComparisonResult r = compare_runs({&a, &a2}, true);
  const PairComparison& p = r.pairs[0];
  EXPECT_EQ(p.first_divergence, -1);
  EXPECT_DOUBLE_EQ(p.jaccard_mean, 1.0);
  EXPECT_DOUBLE_EQ(p.top1_expert_agreement, 1.0);
  EXPECT_DOUBLE_EQ(p.load_js_mean, 0.0);
  EXPECT_DOUBLE_EQ(p.kl_max, 0.0);
  EXPECT_DOUBLE_EQ(p.top1_token_agreement, 1.0);
}

TEST(Comparison, LengthDifferenceAndMismatchedModels) {
  const RunData a = run_a();
  RunData shorter = run_a();
  shorter.name = "1";
  shorter.token_ids.pop_back();
  shorter.token_text.pop_back();
  shorter.is_prompt.pop_back();
  shorter.experts.resize(2 * M * K);
  shorter.weights.resize(2 * M * K);
  shorter.dropped.resize(2 * M);
  shorter.next_logits.resize(2 * V);
  ComparisonResult r = compare_runs({&a, &shorter}, false);
  EXPECT_EQ(r.pairs[0].positions, 2);
  EXPECT_EQ(r.pairs[0].first_divergence, 2);
  RunData other = run_b();
  other.num_experts = 8;
  EXPECT_THROW(compare_runs({&a, &other}, false), Error);
}

TEST(Comparison, TokenOutsideTheVocabularyIsAnErrorNotAnOverread) {
  // A run read from someone's trace may carry ids its logits rows cannot score.
  RunData a = run_a();
  a.token_ids[2] = V;  // the scored continuation token
  try {
    compare_runs({&a}, false);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("token id " + std::to_string(V) + " at position 2 is outside"), std::string::npos)
        << e.what();
  }
  a.token_ids[2] = -1;
  EXPECT_THROW(compare_runs({&a}, false), Error);
}

TEST(Comparison, LoadDivergenceBounds) {
  EXPECT_NEAR(load_divergence({1, 0}, {0, 1}), std::log(2.0), 1e-12);
  EXPECT_NEAR(load_divergence({2, 2}, {1, 1}), 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(load_divergence({0, 0}, {0, 0}), 0.0);
  EXPECT_DOUBLE_EQ(load_divergence({0, 0}, {1, 0}), std::log(2.0));
  // counts are normalised first: {3, 1} vs {1, 1}
  const double a[2] = {0.75, 0.25}, m[2] = {0.625, 0.375};
  const double js = 0.5 * (a[0] * std::log(a[0] / m[0]) + a[1] * std::log(a[1] / m[1])) +
                    0.5 * (0.5 * std::log(0.5 / m[0]) + 0.5 * std::log(0.5 / m[1]));
  EXPECT_NEAR(load_divergence({3, 1}, {1, 1}), js, 1e-12);
}

TEST(Comparison, WritesTheComparisonGroupAndJson) {
  const RunData a = run_a(), b = run_b();
  ComparisonResult r = compare_runs({&a, &b}, true);
  const std::string path = test::temp_dir("cmp") + "/cmp.h5";
  {
    h5::Id f = h5::create_file(path);
    h5::Id g = h5::create_group(f, "comparison");
    write_comparison(g, r);
  }
  h5::Id f = h5::open_file(path);
  h5::Id g = h5::open_group(f, "comparison");
  EXPECT_EQ(h5::read_attr_string(g, "mode").value(), "teacher-forced");
  EXPECT_EQ(h5::read_strings(g, "strategies"), (std::vector<std::string>{"s0", "s1"}));
  h5::Id pg = h5::open_group(f, "comparison/pairs/0-vs-1");
  EXPECT_EQ(h5::read_attr_int(pg, "first_divergence").value(), 2);
  EXPECT_EQ(h5::dataset_dims(pg, "jaccard"), (std::vector<hsize_t>{3, 2}));
  auto jac = h5::read_dataset<float>(pg, "jaccard");
  EXPECT_NEAR(jac[1], 1.0 / 3, 1e-6);
  EXPECT_EQ(h5::dataset_dims(g, "load"), (std::vector<hsize_t>{2, 2, 4}));
  auto j = comparison_to_json(r);
  EXPECT_EQ(j["pairs"][0]["first_divergence"], 2);
  EXPECT_EQ(j["pairs"][0]["layers"][1]["layer"], 3);
  EXPECT_NEAR(j["pairs"][0]["top1_expert_agreement"].get<double>(), 0.5, 1e-12);
}

// ---- run_comparison on a fixture checkpoint ----

#include "engine/session/session.h"
#include "probes/comparison/compare_runner.h"

TEST(CompareRunner, TeacherForcingScoresTheFirstRunsTokens) {
  auto session = Session::open(test::model_fixture("olmoe"));
  ComparePrompt prompt;
  prompt.is_text = false;
  prompt.ids = {5, 9, 13, 200, 7};
  CompareRequest req;
  req.strategies = {"native", "topk:1", "native"};
  req.max_new_tokens = 6;
  req.teacher_forced = true;
  req.stop_at_eos = false;
  CompareOutcome out = run_comparison(*session, prompt, req);
  ASSERT_EQ(out.runs.size(), 3u);
  EXPECT_EQ(out.runs[0].num_tokens(), 11);
  EXPECT_EQ(out.runs[1].token_ids, out.runs[0].token_ids);  // forced through run 0's tokens
  EXPECT_EQ(out.runs[1].strategy, "topk:1");
  // topk:1 really used one expert per token at every layer
  for (int t = 0; t < out.runs[1].num_tokens(); ++t)
    for (int l = 0; l < out.runs[1].num_moe_layers(); ++l) {
      int used = 0;
      for (int j = 0; j < out.runs[1].k_max; ++j) used += out.runs[1].experts_at(t, l)[j] >= 0;
      EXPECT_EQ(used, 1);
    }
  ASSERT_EQ(out.result.pairs.size(), 3u);  // (0,1), (0,2), (1,2)
  const PairComparison& same = out.result.pairs[1];
  EXPECT_EQ(same.first_divergence, -1);
  EXPECT_DOUBLE_EQ(same.jaccard_mean, 1.0);
  EXPECT_DOUBLE_EQ(same.kl_max, 0.0);
  const PairComparison& diff = out.result.pairs[0];
  EXPECT_EQ(diff.first_divergence, -1);
  EXPECT_LT(diff.jaccard_mean, 1.0);
  EXPECT_GT(diff.kl_mean, 0.0);
  // the forced run's next-token logits at the last prompt position are its own, not run 0's
  EXPECT_TRUE(out.runs[1].next_logits != out.runs[0].next_logits);
  // free-running: same request without forcing lets topk:1 choose its own tokens
  req.teacher_forced = false;
  CompareOutcome free_out = run_comparison(*session, prompt, req);
  EXPECT_EQ(free_out.runs[2].token_ids, free_out.runs[0].token_ids);  // native twice: same greedy text
  EXPECT_THROW(run_comparison(*session, prompt, CompareRequest{{"native", "topk:0"}}), Error);
}
