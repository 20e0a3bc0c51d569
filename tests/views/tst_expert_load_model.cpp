// ExpertLoadModel and ExpertLoadView: counts against a hand tally, the capacity C = CF*T*k/E and the
// over-capacity flags, the chart's bar sets and capacity line, model consistency under resets.
#include <QAbstractItemModelTester>
#include <QBarSet>
#include <QChart>
#include <QLineSeries>
#include <QStackedBarSeries>
#include <QtTest>

#include "views/expert_load_model.h"
#include "views/expert_load_view.h"

using namespace moescope;
using namespace moescope::views;

namespace {
// 8 tokens, 2 MoE layers (model layers 0 and 2), 4 experts, k = 2 (config says so).
// Layer 0 routes every token to experts {0, 1}; layer 1 sends token t to {t % 4, (t + 1) % 4}.
// Hand tally: layer 0 -> [8, 8, 0, 0]; layer 1 -> each expert 4 times.
std::shared_ptr<RunData> make_run() {
  auto r = std::make_shared<RunData>();
  r->family = "mixtral";
  r->model_config = R"({"num_experts_per_tok": 2, "num_local_experts": 4})";
  r->num_experts = 4;
  r->k_max = 2;
  r->moe_layers = {0, 2};
  for (int t = 0; t < 8; ++t) {
    r->token_ids.push_back(t);
    r->token_text.push_back("x");
    r->is_prompt.push_back(1);
    for (int l = 0; l < 2; ++l) {
      for (int e = 0; e < 4; ++e) r->router_logits.push_back(0.f);
      r->experts.push_back(l == 0 ? 0 : t % 4);
      r->experts.push_back(l == 0 ? 1 : (t + 1) % 4);
      r->weights.push_back(0.5f);
      r->weights.push_back(0.5f);
      r->dropped.push_back(0);
    }
  }
  return r;
}
}  // namespace

class TestExpertLoadModel : public QObject {
  Q_OBJECT
 private slots:
  void modelTester() {
    ExpertLoadModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setSnapshot(make_run());
    model.setCapacityFactor(0.5);
    model.setSnapshot(nullptr);
    model.setSnapshot(make_run());
  }
  void countsAndCapacity() {
    ExpertLoadModel model;
    model.setSnapshot(make_run());
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(model.columnCount(), 3);  // two layers + total
    const int expect0[4] = {8, 8, 0, 0};
    for (int e = 0; e < 4; ++e) {
      QCOMPARE(model.index(e, 0).data(ExpertLoadModel::CountRole).toLongLong(), qlonglong(expect0[e]));
      QCOMPARE(model.index(e, 1).data(ExpertLoadModel::CountRole).toLongLong(), 4LL);
      QCOMPARE(model.index(e, 2).data(ExpertLoadModel::CountRole).toLongLong(), qlonglong(expect0[e] + 4));
    }
    QCOMPARE(model.headerData(1, Qt::Horizontal).toString(), QStringLiteral("L2"));
    QCOMPARE(model.headerData(2, Qt::Horizontal).toString(), QStringLiteral("Total"));
    // C = 1.0 * 8 * 2 / 4 = 4: layer 0 experts 0 and 1 (8 each) are over, layer 1 (4 each) is not.
    QCOMPARE(model.capacity(), 4.0);
    QVERIFY(model.index(0, 0).data(ExpertLoadModel::OverCapacityRole).toBool());
    QVERIFY(!model.index(2, 0).data(ExpertLoadModel::OverCapacityRole).toBool());
    QVERIFY(!model.index(0, 1).data(ExpertLoadModel::OverCapacityRole).toBool());
    QCOMPARE(model.index(0, 0).data(ExpertLoadModel::ShareRole).toDouble(), 0.5);
    model.setCapacityFactor(0.75);  // C = 3: now layer 1 is over too
    QCOMPARE(model.capacity(), 3.0);
    QVERIFY(model.index(3, 1).data(ExpertLoadModel::OverCapacityRole).toBool());
  }
  void viewChartMatchesModel() {
    ExpertLoadView view;
    view.resize(700, 520);
    view.setSnapshot(make_run());
    view.setCapacityFactor(1.0);
    QChart* chart = view.chart();
    QStackedBarSeries* bars = nullptr;
    QLineSeries* line = nullptr;
    for (QAbstractSeries* s : chart->series()) {
      if (auto* b = qobject_cast<QStackedBarSeries*>(s)) bars = b;
      if (auto* l = qobject_cast<QLineSeries*>(s)) line = l;
    }
    QVERIFY(bars && line);
    QCOMPARE(bars->count(), 2);
    QBarSet* within = bars->barSets().at(0);
    QBarSet* over = bars->barSets().at(1);
    // Layer 0 with C = 4: within = min(load, 4), over = max(0, load - 4).
    const double load0[4] = {8, 8, 0, 0};
    for (int e = 0; e < 4; ++e) {
      QCOMPARE(within->at(e), std::min(load0[e], 4.0));
      QCOMPARE(over->at(e), std::max(0.0, load0[e] - 4.0));
    }
    QCOMPARE(line->at(0).y(), 4.0);
    QCOMPARE(line->at(1).y(), 4.0);
    QVERIFY(view.summaryText().contains(QStringLiteral("= 4.00 per expert")));
    // Over-capacity slots over both layers at C = 4: 4 + 4 at layer 0, none at layer 1.
    QVERIFY2(view.summaryText().contains(QStringLiteral("Slots over capacity: 8")), qPrintable(view.summaryText()));
    view.setLayer(1);
    bars = nullptr;
    for (QAbstractSeries* s : chart->series())
      if (auto* b = qobject_cast<QStackedBarSeries*>(s)) bars = b;
    QVERIFY(bars);
    for (int e = 0; e < 4; ++e) QCOMPARE(bars->barSets().at(0)->at(e), 4.0);
    view.setLayer(0);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QDir().mkpath(QStringLiteral(MOESCOPE_SCREENSHOT_DIR));
    QVERIFY(view.grab().save(QStringLiteral(MOESCOPE_SCREENSHOT_DIR "/test_expert_load.png")));
  }
};

QTEST_MAIN(TestExpertLoadModel)
#include "tst_expert_load_model.moc"
