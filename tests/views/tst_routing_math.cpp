// Router probabilities, top-1, expert load, capacity, colour scale, palette and chart adapters,
// checked against closed-form values worked out by hand.
#include <QtTest>
#include <cmath>
#include <set>

#include "views/chart_adapters.h"
#include "views/palette.h"
#include "views/routing_math.h"

using namespace moescope;
using namespace moescope::views;

namespace {
// 3 tokens, 1 MoE layer, 3 experts, K = 2. Logits 0, ln 2, ln 3 give softmax 1/6, 2/6, 3/6.
RunData small_run(const std::string& family = "mixtral") {
  RunData r;
  r.family = family;
  r.num_experts = 3;
  r.k_max = 2;
  r.moe_layers = {0};
  r.token_ids = {10, 11, 12};
  r.token_text = {"a", " b", "\n"};
  r.is_prompt = {1, 1, 0};
  const float l2 = std::log(2.0f), l3 = std::log(3.0f);
  r.router_logits = {0, l2, l3, /**/ l3, 0, l2, /**/ 0, 0, 0};
  r.experts = {2, 1, /**/ 0, 2, /**/ -1, -1};
  r.weights = {0.6f, 0.4f, /**/ 0.6f, 0.4f, /**/ 0, 0};
  r.dropped = {0, 0, 1};
  return r;
}
}  // namespace

class TestRoutingMath : public QObject {
  Q_OBJECT
 private slots:
  void softmaxProbabilities() {
    const RunData r = small_run();
    const auto p = router_probabilities(r, 0, 0);
    QCOMPARE(int(p.size()), 3);
    QVERIFY(std::abs(p[0] - 1.0 / 6) < 1e-6);
    QVERIFY(std::abs(p[1] - 2.0 / 6) < 1e-6);
    QVERIFY(std::abs(p[2] - 3.0 / 6) < 1e-6);
    const auto q = router_probabilities(r, 2, 0);  // equal logits: uniform
    for (float v : q) QVERIFY(std::abs(v - 1.0 / 3) < 1e-6);
  }
  void softmaxIsShiftInvariantAndStable() {
    RunData r = small_run();
    for (float& v : r.router_logits) v += 1000.0f;  // would overflow exp() without the max shift
    const auto p = router_probabilities(r, 0, 0);
    QVERIFY(std::abs(p[2] - 0.5) < 1e-4);
  }
  void sigmoidForDeepSeek() {
    const RunData r = small_run("deepseek_v3");
    QCOMPARE(score_kind_for_family("deepseek_v3"), ScoreKind::Sigmoid);
    QCOMPARE(score_kind_for_family("qwen2_moe"), ScoreKind::Softmax);
    QCOMPARE(score_kind_for_family("deepseek_v2"), ScoreKind::Softmax);  // V2's router is a softmax
    const auto p = router_probabilities(r, 0, 0);
    QVERIFY(std::abs(p[0] - 0.5) < 1e-6);         // sigmoid(0)
    QVERIFY(std::abs(p[1] - 2.0 / 3) < 1e-6);     // sigmoid(ln 2) = 2/3
    QVERIFY(std::abs(p[2] - 0.75) < 1e-6);        // sigmoid(ln 3) = 3/4
  }
  void deepSeekGroupLimitNote() {
    RunData r = small_run("deepseek_v2");
    r.model_config = R"({"topk_method":"group_limited_greedy","n_group":8,"topk_group":3,"routed_scaling_factor":16.0})";
    QCOMPARE(QString::fromStdString(group_limit_note(r)),
             QString::fromUtf8("chosen within the best 3 of 8 expert groups; weights \u00d7 16"));
    r.model_config = R"({"topk_method":"greedy","n_group":1,"topk_group":1,"routed_scaling_factor":1.0})";
    QVERIFY(group_limit_note(r).empty());  // DeepSeek-V2-Lite: plain top-k, no scale
    r.model_config = R"({"topk_method":"greedy","n_group":8,"topk_group":3,"routed_scaling_factor":1.0})";
    QVERIFY(group_limit_note(r).empty());  // greedy ignores the groups
    r.family = "deepseek_v3";
    r.model_config = R"({"n_group":8,"topk_group":4,"routed_scaling_factor":2.5})";
    QCOMPARE(QString::fromStdString(group_limit_note(r)),
             QString::fromUtf8("chosen within the best 4 of 8 expert groups; weights \u00d7 2.5"));
    r.family = "glm4_moe";  // GLM-4.5: DeepSeek-V3's router, one group
    r.model_config = R"({"n_group":1,"topk_group":1,"routed_scaling_factor":2.5})";
    QCOMPARE(QString::fromStdString(group_limit_note(r)), QString::fromUtf8("weights \u00d7 2.5"));
    QCOMPARE(score_kind_for_family("glm4_moe"), ScoreKind::Sigmoid);
    r.family = "dots1";  // dots.llm1: DeepSeek-V3's router too
    r.model_config = R"({"n_group":4,"topk_group":2,"routed_scaling_factor":2.5})";
    QCOMPARE(QString::fromStdString(group_limit_note(r)),
             QString::fromUtf8("chosen within the best 2 of 4 expert groups; weights \u00d7 2.5"));
    QCOMPARE(score_kind_for_family("dots1"), ScoreKind::Sigmoid);
    r.family = "phimoe";  // Phi-3.5-MoE: sparsemixer, the threshold 2 x router_jitter_noise as a percentage
    r.model_config = R"({"router_jitter_noise":0.01})";
    QCOMPARE(QString::fromStdString(group_limit_note(r)),
             QString::fromUtf8("sparsemixer: each weight is a softmax over the logits within 2% of that round's best"));
    QCOMPARE(score_kind_for_family("phimoe"), ScoreKind::Softmax);
    r.family = "ernie4_5_moe";
    QCOMPARE(QString::fromStdString(group_limit_note(r)), QString::fromUtf8("chosen on probability + correction bias"));
    QCOMPARE(score_kind_for_family("ernie4_5_moe"), ScoreKind::Softmax);
    r.family = "qwen3_moe";
    QVERIFY(group_limit_note(r).empty());
  }
  void chosenExperts() {
    const RunData r = small_run();
    QCOMPARE(top1_expert(r, 0, 0), 2);
    QCOMPARE(top1_expert(r, 1, 0), 0);
    QCOMPARE(top1_expert(r, 2, 0), -1);  // dropped
    QVERIFY(is_chosen(r, 0, 0, 1));
    QVERIFY(!is_chosen(r, 0, 0, 0));
    QCOMPARE(chosen_weight(r, 1, 0, 2), 0.4f);
    QCOMPARE(chosen_weight(r, 1, 0, 1), 0.0f);
  }
  void expertLoadCounts() {
    const RunData r = small_run();
    const LoadTable t = expert_load(r);
    QCOMPARE(t.tokens, 3);
    QCOMPARE(t.at(0, 0), 1);  // token 1
    QCOMPARE(t.at(0, 1), 1);  // token 0
    QCOMPARE(t.at(0, 2), 2);  // tokens 0 and 1
    QCOMPARE(t.layer_total(0), 4);
    QCOMPARE(t.expert_total(2), 2);
  }
  void capacityFormula() {
    QCOMPARE(expert_capacity(1.25, 40, 2, 16), 6.25);  // 1.25 * 40 * 2 / 16
    QCOMPARE(expert_capacity(1.0, 3, 2, 3), 2.0);
    QCOMPARE(expert_capacity(1.0, 3, 2, 0), 0.0);
    const LoadTable t = expert_load(small_run());
    // C = 1.5: loads 1, 1, 2 -> overflow 0.5 at expert 2.
    QCOMPARE(overflow_at_layer(t, 0, 1.5), 0.5);
    QCOMPARE(overflow_at_layer(t, 0, 0.5), 0.5 + 0.5 + 1.5);
  }
  void expertsPerTokenFromConfig() {
    RunData r = small_run();
    QCOMPARE(experts_per_token(r), 2);  // no config: K
    r.model_config = R"({"num_experts_per_tok": 1, "num_local_experts": 3})";
    QCOMPARE(experts_per_token(r), 1);
    r.model_config = "not json";
    QCOMPARE(experts_per_token(r), 2);
  }
  void colourScale() {
    QCOMPARE(colour_scale_max(0.33), 0.4);
    QCOMPARE(colour_scale_max(0.3), 0.3);
    QCOMPARE(colour_scale_max(0.0), 0.1);
    QCOMPARE(colour_scale_max(0.02), 0.1);
    QCOMPARE(colour_scale_max(0.97), 1.0);
    QCOMPARE(colour_scale_max(std::nan("")), 0.1);
  }
  void palette() {
    std::set<QRgb> seen;
    for (int e = 0; e < kCategoricalColours; ++e) seen.insert(expert_colour(e).rgb());
    QCOMPARE(int(seen.size()), kCategoricalColours);
    QCOMPARE(expert_colour(kCategoricalColours).rgb(), expert_colour(0).rgb());  // wraps
    QCOMPARE(text_colour_on(Qt::white), QColor(Qt::black));
    QCOMPARE(text_colour_on(QColor(0x08, 0x30, 0x6b)), QColor(Qt::white));
    QCOMPARE(sequential_colour(0.0), QColor(Qt::white));
    QCOMPARE(sequential_colour(1.0), QColor(0x08, 0x30, 0x6b));
    QCOMPARE(sequential_colour(7.0), sequential_colour(1.0));  // clamped
    // Darker as the value grows (sum of channels strictly decreasing on a fine grid).
    int prev = 3 * 255 + 1;
    for (int i = 0; i <= 20; ++i) {
      const QColor c = sequential_colour(i / 20.0);
      const int s = c.red() + c.green() + c.blue();
      QVERIFY2(s < prev, qPrintable(QString::number(i)));
      prev = s;
    }
  }
  void chartAdapters() {
    const RunData r = small_run();
    const LoadTable t = expert_load(r);
    const StackedBars lb = load_bars(t, 0, 1.5);
    QCOMPARE(lb.base, (std::vector<double>{1, 1, 1.5}));
    QCOMPARE(lb.top, (std::vector<double>{0, 0, 0.5}));
    QCOMPARE(lb.max_total(), 2.0);
    QVERIFY(load_bars(t, 5, 1.0).base.empty());
    const StackedBars pb = probability_bars(r, 0, 0);  // chosen: 2, 1
    QVERIFY(std::abs(pb.base[0] - 1.0 / 6) < 1e-6);
    QCOMPARE(pb.top[0], 0.0);
    QCOMPARE(pb.base[1], 0.0);
    QVERIFY(std::abs(pb.top[1] - 2.0 / 6) < 1e-6);
    QVERIFY(std::abs(pb.top[2] - 0.5) < 1e-6);
  }
};

QTEST_GUILESS_MAIN(TestRoutingMath)
#include "tst_routing_math.moc"
