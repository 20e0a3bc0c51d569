// Compare view: the metrics table model (QAbstractItemModelTester; values against a hand computation
// on two tiny runs), the difference heatmap and first-divergence markers, CMP.h5 export (read back with
// the HDF5 C API and the trace reader), the background CompareRunner on the demo checkpoint (signals,
// cancel) and offscreen renders.
#include <hdf5.h>

#include <QAbstractItemModelTester>
#include <QChart>
#include <QChartView>
#include <QLineSeries>
#include <QPushButton>
#include <QScrollArea>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>

#include <QMainWindow>
#include <QMenu>

#include "app/gui/compare_runner.h"
#include "app/gui/session_controller.h"
#include "app/gui/suite_runner.h"
#include "probes/trace/trace_reader.h"
#include "views/compare_model.h"
#include "views/compare_view.h"
#include "views/drift_matrix_heatmap.h"
#include "views/specialization_model.h"
#include "views/specialization_view.h"

using namespace moescope;
using namespace moescope::views;
using moescope::gui::CompareJob;
using moescope::gui::CompareRunner;

namespace {
const QString kDemo = QStringLiteral(MOESCOPE_DATASETS_DIR "/moescope-demo-mixtral");

// Two tokens, one MoE layer, E = 3, K = 2, V = 2.
// A: selections {0,1}, {0,1}; router logits 0 (p = 1/3 each); next-token logits [0, 0]; ids 0, 0.
// B: selections {0,2}, {0,1}; token 0 logits [ln 2, 0, 0] (p = 1/2, 1/4, 1/4); next [ln 3, 0]; ids 0, 1.
RunSnapshot tiny(bool b) {
  auto r = std::make_shared<RunData>();
  r->name = b ? "1" : "0";
  r->strategy = b ? "topk:2+mask:0.1" : "native";
  r->family = "mixtral";
  r->num_experts = 3;
  r->k_max = 2;
  r->vocab_size = 2;
  r->moe_layers = {0};
  const int sel[2][2][2] = {{{0, 1}, {0, 1}}, {{0, 2}, {0, 1}}};
  for (int t = 0; t < 2; ++t) {
    r->token_ids.push_back(t == 0 ? 0 : (b ? 1 : 0));
    r->token_text.push_back(t == 0 ? "a" : (b ? "c" : "b"));
    r->is_prompt.push_back(t == 0);
    const float l0 = (b && t == 0) ? std::log(2.f) : 0.f;
    r->router_logits.insert(r->router_logits.end(), {l0, 0.f, 0.f});
    r->experts.insert(r->experts.end(), {sel[b][t][0], sel[b][t][1]});
    r->weights.insert(r->weights.end(), {0.5f, 0.5f});
    r->dropped.push_back(0);
    r->next_logits.insert(r->next_logits.end(), {b ? std::log(3.f) : 0.f, 0.f});
  }
  return r;
}

double entropy(std::initializer_list<double> p) {
  double h = 0;
  for (double x : p)
    if (x > 0) h -= x * std::log(x);
  return h;
}

void save(QWidget& w, const QString& name) {
  QDir().mkpath(QStringLiteral(MOESCOPE_SCREENSHOT_DIR));
  QVERIFY(w.grab().save(QStringLiteral(MOESCOPE_SCREENSHOT_DIR "/") + name));
}
}  // namespace

class TestCompareView : public QObject {
  Q_OBJECT
 private slots:
  void strategyList() {
    QCOMPARE(parse_strategy_list(QStringLiteral(" native ;topk:1\n\nmask:0.1,0.2+capacity:1;")),
             (QStringList{QStringLiteral("native"), QStringLiteral("topk:1"), QStringLiteral("mask:0.1,0.2+capacity:1")}));
  }

  void metricsModelByHand() {
    CompareMetricsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const RunSnapshot a = tiny(false), b = tiny(true);
    model.setResult(compare_runs({a.get(), b.get()}, false));
    QCOMPARE(model.columnCount(), 1);
    QCOMPARE(model.rowCount(), int(CompareMetricsModel::MetricCount));
    // Jaccard: token 0 {0,1} vs {0,2} = 1/3, token 1 = 1 -> mean 2/3.
    QVERIFY(std::abs(model.value(CompareMetricsModel::Jaccard, 0) - 2.0 / 3.0) < 1e-9);
    QCOMPARE(model.value(CompareMetricsModel::Top1ExpertAgreement, 0), 1.0);
    // KL([1/2, 1/2] || [3/4, 1/4]) = 1/2 ln(2/3) + 1/2 ln 2 = 1/2 ln(4/3) at both positions.
    QVERIFY(std::abs(model.value(CompareMetricsModel::KlMean, 0) - 0.5 * std::log(4.0 / 3.0)) < 1e-6);
    QCOMPARE(model.value(CompareMetricsModel::FirstDivergence, 0), 1.0);
    // Load over both tokens: A [1/2, 1/2, 0], B [1/2, 1/4, 1/4]; JS = H(mid) - (H(A) + H(B)) / 2.
    const double js = entropy({0.5, 0.375, 0.125}) - (entropy({0.5, 0.5}) + entropy({0.5, 0.25, 0.25})) / 2;
    QVERIFY(std::abs(model.value(CompareMetricsModel::LoadJs, 0) - js) < 1e-9);
    QCOMPARE(model.headerData(0, Qt::Horizontal).toString(), QStringLiteral("run 0 vs run 1"));
    QCOMPARE(model.index(CompareMetricsModel::StrategyB, 0).data().toString(), QStringLiteral("topk:2+mask:0.1"));
    QCOMPARE(model.index(CompareMetricsModel::FirstDivergence, 0).data().toString(), QStringLiteral("1"));
    model.setResult({});
    QCOMPARE(model.rowCount(), 0);
  }

  void viewHeatmapsAndExport() {
    CompareView view;
    view.resize(900, 800);
    view.setRuns({tiny(false), tiny(true)}, false);
    QCOMPARE(view.heatmapA()->spec().cols, 2);
    QCOMPARE(view.heatmapA()->spec().rows, 3);
    // P_A - P_B at token 0, expert 0: 1/3 - 1/2.
    QVERIFY(std::abs(view.differenceHeatmap()->spec().values[0] - (1.0 / 3.0 - 0.5)) < 1e-6);
    QVERIFY(std::abs(view.differenceHeatmap()->spec().values[size_t(1) * 2 + 0] - (1.0 / 3.0 - 0.25)) < 1e-6);
    QCOMPARE(view.differenceHeatmap()->spec().values[1], 0.0);  // token 1: same logits
    for (MatrixHeatmap* h : {view.heatmapA(), view.heatmapB(), view.differenceHeatmap(), view.agreementHeatmap()})
      QCOMPARE(h->spec().marker_column, 1);
    // Jaccard strip: [layer, token] = 1/3, 1.
    QVERIFY(std::abs(view.agreementHeatmap()->spec().values[0] - 1.0 / 3.0) < 1e-6);
    // Chosen experts outlined: A token 0 uses experts 0 and 1, not 2.
    QVERIFY(view.heatmapA()->spec().outline[0] && view.heatmapA()->spec().outline[2] && !view.heatmapA()->spec().outline[4]);
    // All strips share the token axis: same left margin and cell width.
    QCOMPARE(view.heatmapB()->spec().left_margin, view.agreementHeatmap()->spec().left_margin);
    QCOMPARE(view.heatmapB()->spec().fixed_cell_width, CompareView::kCellWidth);

    // Three runs: three pairs in the table; pair 2 = run 1 vs run 2, so the difference flips sign.
    CompareView three;
    three.setRuns({tiny(false), tiny(true), tiny(false)}, false);
    QCOMPARE(three.metricsModel()->columnCount(), 3);
    three.setPair(2);
    QVERIFY(std::abs(three.differenceHeatmap()->spec().values[0] - (0.5 - 1.0 / 3.0)) < 1e-6);
    QCOMPARE(three.metricsModel()->value(CompareMetricsModel::Jaccard, 1), 1.0);  // run 0 vs its copy

    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("CMP.h5"));
    QCOMPARE(view.exportComparison(path), QString());
    const auto runs = read_trace(path.toStdString());
    QCOMPARE(int(runs.size()), 2);
    QCOMPARE(runs[1].strategy, std::string("topk:2+mask:0.1"));
    QCOMPARE(runs[1].token_ids, tiny(true)->token_ids);
    hid_t f = H5Fopen(path.toLocal8Bit().constData(), H5F_ACC_RDONLY, H5P_DEFAULT);
    QVERIFY(f >= 0);
    QVERIFY(H5Lexists(f, "comparison", H5P_DEFAULT) > 0);
    QVERIFY(H5Lexists(f, "comparison/pairs", H5P_DEFAULT) > 0);
    H5Fclose(f);
    QVERIFY(!view.exportComparison(dir.filePath(QStringLiteral("no/such/dir/x.h5"))).isEmpty());
  }

  void runnerOnDemo() {
    CompareView view;
    view.resize(1500, 1000);
    CompareRunner runner;
    runner.attach(&view, [] { return kDemo; });
    QSignalSpy progress(&runner, &CompareRunner::progress);
    QSignalSpy finished(&runner, &CompareRunner::finished);
    view.setPrompt(QStringLiteral("The configuration file lists every option with its default value and"));
    view.setStrategies({QStringLiteral("native"), QStringLiteral("topk:1")});
    view.runButton()->click();
    QVERIFY(view.cancelButton()->isEnabled());
    QVERIFY(finished.wait(120000));
    QCOMPARE(finished.first().at(1).toString(), QString());
    QCOMPARE(progress.size(), 2);
    QCOMPARE(progress.at(1).at(2).toString(), QStringLiteral("topk:1"));
    QCOMPARE(int(view.runs().size()), 2);
    const PairComparison& p = view.result().pairs.at(0);
    QVERIFY(p.has_logits);
    QCOMPARE(int(p.kl.size()), p.positions);
    QCOMPARE(view.runs()[1]->strategy, std::string("topk:1"));
    QCOMPARE(view.runs()[1]->k_max >= 1, true);
    // topk:1 uses one expert per token: every selection pair has Jaccard <= 1/2.
    for (float j : p.jaccard) QVERIFY(j <= 0.5f + 1e-6f);
    // The KL chart plots one point per position.
    auto* kl = qobject_cast<QLineSeries*>(view.klChart()->chart()->series().at(0));
    QVERIFY(kl && kl->count() == p.positions);
    view.setLayer(5);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    save(view, QStringLiteral("compare_view.png"));
    save(*view.scrollArea()->widget(), QStringLiteral("compare_strips.png"));

    // Saved trace: export CMP.h5, open it like the main window does; the installed compare dock
    // shows the same comparison.
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("CMP.h5"));
    QCOMPARE(view.exportComparison(path), QString());
    QMainWindow window;
    gui::SessionController controller;
    QMenu menu;
    const gui::AnalysisViews a = gui::install_analysis_views(&window, &controller, &menu, QStringLiteral(MOESCOPE_DATASETS_DIR));
    QCOMPARE(menu.actions().size(), 4);
    controller.openTrace(path);
    QTRY_COMPARE_WITH_TIMEOUT(int(a.compare->runs().size()), 2, 30000);
    const PairComparison& q = a.compare->result().pairs.at(0);
    QCOMPARE(q.positions, p.positions);
    QCOMPARE(q.first_divergence, p.first_divergence);
    for (int t = 0; t < p.positions; ++t) QVERIFY(std::abs(q.kl[size_t(t)] - p.kl[size_t(t)]) < 1e-5);
    QCOMPARE(a.specialization->model()->runs().size(), size_t(2));

    // Teacher-forced: the second strategy is stepped through the first one's tokens, so the runs never
    // diverge and nothing is marked.
    QSignalSpy finished3(&runner, &CompareRunner::finished);
    QVERIFY(runner.start(CompareJob{kDemo, QStringLiteral("The configuration file lists"),
                                    {QStringLiteral("native"), QStringLiteral("topk:1")}, 12, true}));
    QVERIFY(finished3.wait(60000));
    QCOMPARE(finished3.first().at(1).toString(), QString());
    QVERIFY(view.result().teacher_forced);
    QCOMPARE(view.result().pairs.at(0).first_divergence, -1);
    QCOMPARE(view.runs()[0]->token_ids, view.runs()[1]->token_ids);
    QCOMPARE(view.heatmapA()->spec().marker_column, -1);

    // Cancel: a long run stops early and reports cancelled.
    QSignalSpy finished2(&runner, &CompareRunner::finished);
    QVERIFY(runner.start(CompareJob{kDemo, QStringLiteral("Once"), {QStringLiteral("native"), QStringLiteral("topk:1")}, 900, false}));
    runner.cancel();
    QVERIFY(finished2.wait(60000));
    QCOMPARE(finished2.first().at(0).toBool(), true);
  }
};

QTEST_MAIN(TestCompareView)
#include "tst_compare_view.moc"
