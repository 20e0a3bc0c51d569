// TokenDetailsModel and TokenDetailsView: one row per MoE layer with the chosen experts and weights
// of the selected token; the chart's bars are the router probabilities split chosen / not chosen.
#include <QAbstractItemModelTester>
#include <QBarSet>
#include <QChart>
#include <QStackedBarSeries>
#include <QtTest>
#include <cmath>

#include "views/token_details_model.h"
#include "views/token_details_view.h"

using namespace moescope;
using namespace moescope::views;

namespace {
// 3 tokens, 2 MoE layers, 3 experts. Token 1, layer 0: logits (0, ln 2, ln 3) -> softmax 1/6, 1/3, 1/2,
// chosen experts 2 (0.6) and 1 (0.4). Token 1 is dropped at layer 1.
std::shared_ptr<RunData> make_run() {
  auto r = std::make_shared<RunData>();
  r->family = "mixtral";
  r->num_experts = 3;
  r->k_max = 2;
  r->moe_layers = {0, 1};
  const float l2 = std::log(2.0f), l3 = std::log(3.0f);
  for (int t = 0; t < 3; ++t) {
    r->token_ids.push_back(7 + t);
    r->token_text.push_back("w" + std::to_string(t));
    r->is_prompt.push_back(t < 2);
    for (int l = 0; l < 2; ++l) {
      const bool drop = t == 1 && l == 1;
      r->router_logits.insert(r->router_logits.end(), {0.f, l2, l3});
      r->experts.insert(r->experts.end(), {drop ? -1 : 2, drop ? -1 : 1});
      r->weights.insert(r->weights.end(), {drop ? 0.f : 0.6f, drop ? 0.f : 0.4f});
      r->dropped.push_back(drop ? 1 : 0);
    }
  }
  return r;
}
}  // namespace

class TestTokenDetailsModel : public QObject {
  Q_OBJECT
 private slots:
  void modelTester() {
    TokenDetailsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setSnapshot(make_run());
    model.setToken(1);
    model.setToken(99);  // out of range: empty
    QCOMPARE(model.rowCount(), 0);
    model.setToken(0);
    model.setSnapshot(nullptr);
  }
  void rowsPerLayer() {
    TokenDetailsModel model;
    model.setSnapshot(make_run());
    model.setToken(1);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.index(0, TokenDetailsModel::ExpertsColumn).data().toString(), QStringLiteral("E2, E1"));
    QCOMPARE(model.index(0, TokenDetailsModel::WeightsColumn).data().toString(), QStringLiteral("0.600, 0.400"));
    QVERIFY(std::abs(model.index(0, TokenDetailsModel::TopProbabilityColumn).data(Qt::UserRole).toDouble() - 0.5) < 1e-6);
    QCOMPARE(model.index(0, TokenDetailsModel::DroppedColumn).data(Qt::UserRole).toBool(), false);
    QCOMPARE(model.index(1, TokenDetailsModel::ExpertsColumn).data().toString(), QStringLiteral("-"));
    QCOMPARE(model.index(1, TokenDetailsModel::DroppedColumn).data(Qt::UserRole).toBool(), true);
  }
  void viewChart() {
    TokenDetailsView view;
    view.resize(600, 520);
    view.setSnapshot(make_run());
    view.setToken(1);
    view.setLayer(0);
    QStackedBarSeries* bars = nullptr;
    for (QAbstractSeries* s : view.chart()->series())
      if (auto* b = qobject_cast<QStackedBarSeries*>(s)) bars = b;
    QVERIFY(bars);
    QBarSet* other = bars->barSets().at(0);
    QBarSet* chosen = bars->barSets().at(1);
    QVERIFY(std::abs(other->at(0) - 1.0 / 6) < 1e-6);
    QCOMPARE(chosen->at(0), 0.0);
    QVERIFY(std::abs(chosen->at(1) - 1.0 / 3) < 1e-6);
    QVERIFY(std::abs(chosen->at(2) - 0.5) < 1e-6);
    QVERIFY(view.chart()->title().contains(QStringLiteral("E2 \u00d7 0.600")));
    view.setLayer(1);
    QVERIFY(view.chart()->title().contains(QStringLiteral("dropped")));
    view.setLayer(0);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QDir().mkpath(QStringLiteral(MOESCOPE_SCREENSHOT_DIR));
    QVERIFY(view.grab().save(QStringLiteral(MOESCOPE_SCREENSHOT_DIR "/test_token_details.png")));
  }
};

QTEST_MAIN(TestTokenDetailsModel)
#include "tst_token_details_model.moc"
