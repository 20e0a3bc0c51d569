// Specialisation map: the model (QAbstractItemModelTester; counts, p(e|c), orderings and top experts
// against hand tallies), the suite runner on the demo checkpoint (progress and finish signals, cancel,
// the GUI thread never blocked) and the map of the demo suite against the demo README's table of each
// domain's most used experts; offscreen renders of the map.
#include <QAbstractItemModelTester>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QtTest>
#include <algorithm>
#include <cmath>

#include <QDockWidget>
#include <QTemporaryDir>

#include "app/gui/main_window.h"
#include "app/gui/prompt_suites.h"
#include "app/gui/session_controller.h"
#include "app/gui/suite_runner.h"
#include "views/drift_matrix_heatmap.h"
#include "views/specialization_colours.h"
#include "views/specialization_model.h"
#include "views/specialization_view.h"

using namespace moescope;
using namespace moescope::views;
using moescope::gui::SuiteRequest;
using moescope::gui::SuiteRunner;

namespace {
const QString kDemo = QStringLiteral(MOESCOPE_DATASETS_DIR "/moescope-demo-mixtral");
const QString kSuite = QStringLiteral(MOESCOPE_DATASETS_DIR "/prompts/demo-domains.jsonl");

// A run with one MoE layer, E = 3, K = 1, label `label`, tokens routed to `experts` (text = "a").
RunSnapshot labelled_run(const std::string& label, const std::vector<int>& experts) {
  auto r = std::make_shared<RunData>();
  r->family = "mixtral";
  r->label = label;
  r->num_experts = 3;
  r->k_max = 1;
  r->moe_layers = {0};
  for (size_t t = 0; t < experts.size(); ++t) {
    r->token_ids.push_back(int64_t(experts[t]) + 100);
    r->token_text.push_back("tok" + std::to_string(experts[t]));
    r->is_prompt.push_back(1);
    for (int e = 0; e < 3; ++e) r->router_logits.push_back(0.f);
    r->experts.push_back(experts[t]);
    r->weights.push_back(1.f);
    r->dropped.push_back(0);
  }
  return r;
}

void save(QWidget& w, const QString& name) {
  QDir().mkpath(QStringLiteral(MOESCOPE_SCREENSHOT_DIR));
  QVERIFY(w.grab().save(QStringLiteral(MOESCOPE_SCREENSHOT_DIR "/") + name));
}

// nPMI by hand: pmi = ln(p(c,e) / (p(c) p(e))) / -ln p(c,e).
double npmi_by_hand(double n_ce, double n_c, double n_e, double n) {
  const double pce = n_ce / n;
  return std::log(pce / ((n_c / n) * (n_e / n))) / -std::log(pce);
}
}  // namespace

class TestSpecializationView : public QObject {
  Q_OBJECT
  QTemporaryDir m_settings_dir;

 private slots:
  void initTestCase() {
    // The main window persists its layout: keep that out of the user's settings.
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_settings_dir.path());
    QCoreApplication::setOrganizationName(QStringLiteral("MoEScopeTest"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_specialization_view"));
  }

  void modelTester() {
    SpecializationModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setRuns({labelled_run("a", {0, 0, 1}), labelled_run("b", {2, 2, 1})});
    model.setSort(SpecSort::MaxNpmi);
    model.setSource(SpecializationModel::Source::TokenClasses);
    model.setSource(SpecializationModel::Source::Labels);
    model.sort(1);
    model.setRuns({});
    model.setRuns({labelled_run("a", {0})});
  }

  void valuesAndOrderByHand() {
    // Label a: experts 0, 0, 1; label b: 2, 2, 1. N = 6, each label 3, experts 0:2, 1:2, 2:2.
    SpecializationModel model;
    model.setRuns({labelled_run("a", {0, 0, 1}), labelled_run("b", {2, 2, 1})});
    QCOMPARE(model.columnCount(), 2);
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.headerData(0, Qt::Horizontal).toString(), QStringLiteral("a"));
    QCOMPARE(model.headerData(2, Qt::Vertical).toString(), QStringLiteral("E2"));
    // (a, E0): 2 of 6; nPMI = ln((1/3) / (1/2 * 1/3)) / -ln(1/3) = ln 2 / ln 3.
    QVERIFY(std::abs(model.index(0, 0).data(SpecializationModel::NpmiRole).toDouble() - npmi_by_hand(2, 3, 2, 6)) < 1e-9);
    QVERIFY(std::abs(model.index(0, 0).data(SpecializationModel::NpmiRole).toDouble() - std::log(2.0) / std::log(3.0)) < 1e-9);
    // (a, E1): 1 of 6: ln((1/6)/(1/6)) = 0.
    QVERIFY(std::abs(model.index(1, 0).data(SpecializationModel::NpmiRole).toDouble()) < 1e-9);
    QCOMPARE(model.index(2, 0).data(SpecializationModel::NpmiRole).toDouble(), -1.0);  // empty cell
    QCOMPARE(model.index(0, 0).data(SpecializationModel::CountRole).toLongLong(), 2LL);
    QVERIFY(std::abs(model.index(0, 0).data(SpecializationModel::ShareRole).toDouble() - 2.0 / 3.0) < 1e-12);
    QCOMPARE(model.index(0, 0).data(SpecializationModel::TopExpertRole).toInt(), 1);  // a's most used
    QCOMPARE(model.index(1, 0).data(SpecializationModel::TopExpertRole).toInt(), 2);  // a's second
    QCOMPARE(model.index(2, 0).data(SpecializationModel::TopExpertRole).toInt(), 0);
    // Sort by category b: E2 (ln2/ln3) first, then E1 (0), then E0 (-1).
    model.setSort(SpecSort::Category, 1);
    QCOMPARE(model.expertAt(0), 2);
    QCOMPARE(model.expertAt(1), 1);
    QCOMPARE(model.expertAt(2), 0);
    QCOMPARE(model.headerData(0, Qt::Vertical).toString(), QStringLiteral("E2"));
    // Max nPMI: E0 and E2 tie at ln2/ln3 (id order), E1 last (0).
    model.setSort(SpecSort::MaxNpmi);
    QCOMPARE(model.expertAt(0), 0);
    QCOMPARE(model.expertAt(1), 2);
    QCOMPARE(model.expertAt(2), 1);
    // Top tokens of E1: one "tok1" from each run, merged by id -> count 2.
    const auto top = model.topTokens(1);
    QCOMPARE(int(top.size()), 1);
    QCOMPARE(top[0].count, int64_t(2));
    QCOMPARE(QString::fromStdString(top[0].text), QStringLiteral("tok1"));
  }

  void divergingColours() {
    QCOMPARE(diverging_colour(0.0), QColor(Qt::white));
    QVERIFY(diverging_colour(1.0).red() > diverging_colour(1.0).blue());    // positive = red
    QVERIFY(diverging_colour(-1.0).blue() > diverging_colour(-1.0).red());  // negative = blue
    QCOMPARE(diverging_colour(5.0), diverging_colour(1.0));                 // clamped
    QCOMPARE(diverging_colour(std::nan("")), QColor(Qt::white));
  }

  void viewSingleRunUsesTokenClasses() {
    SpecializationView view;
    view.setSnapshot(labelled_run("", {0, 1, 2}));
    QCOMPARE(view.model()->source(), SpecializationModel::Source::TokenClasses);
    QCOMPARE(view.heatmap()->spec().cols, 7);  // word, number, punctuation, ...
    view.setRuns({labelled_run("a", {0}), labelled_run("b", {1})});
    QCOMPARE(view.model()->source(), SpecializationModel::Source::Labels);
    QCOMPARE(view.heatmap()->spec().cols, 2);
    QCOMPARE(view.topTokensTable()->rowCount(), 3);
  }

  void cancelStopsTheSuite() {
    QString err;
    const auto prompts = gui::load_prompt_suite(kSuite, &err);
    QVERIFY2(prompts.size() == 12, qPrintable(err));
    SuiteRunner runner;
    QSignalSpy finished(&runner, &SuiteRunner::finished);
    SuiteRequest req{kDemo, prompts, QStringLiteral("native"), 2000};  // long: each prompt generates a lot
    QVERIFY(runner.start(req));
    QVERIFY(runner.isRunning());
    QVERIFY(!runner.start(req));  // one suite at a time
    runner.cancel();
    QVERIFY(finished.wait(30000));
    QCOMPARE(finished.first().at(0).toBool(), true);  // cancelled
    QVERIFY(runner.results().size() < size_t(prompts.size()));
    QVERIFY(!runner.isRunning());
  }

  void insideTheMainWindow();

  void demoSuiteMatchesReadme() {
    QString err;
    const auto prompts = gui::load_prompt_suite(kSuite, &err);
    QCOMPARE(prompts.size(), 12);
    SpecializationView view;
    view.resize(1400, 760);
    SuiteRunner runner;
    runner.attach(&view, [&] { return SuiteRequest{kDemo, prompts, QStringLiteral("native"), 0}; });
    QSignalSpy progress(&runner, &SuiteRunner::progress);
    QSignalSpy finished(&runner, &SuiteRunner::finished);
    QSignalSpy runs(&runner, &SuiteRunner::runFinished);
    view.runButton()->click();
    QVERIFY(!view.runButton()->isEnabled());
    QVERIFY(view.cancelButton()->isEnabled());
    // The GUI thread keeps processing events while the suite runs (the spy waits in an event loop).
    QVERIFY(finished.wait(120000));
    QCOMPARE(finished.first().at(0).toBool(), false);
    QCOMPARE(finished.first().at(1).toString(), QString());
    QCOMPARE(runs.size(), 12);
    QCOMPARE(progress.last().at(0).toInt(), 12);
    QCOMPARE(view.progressBar()->value(), 12);
    QVERIFY(view.runButton()->isEnabled());
    QCOMPARE(view.model()->columnCount(), 4);  // python, c, prose, csv

    // The demo README's table (layer 5; held-out documents, top-2 selections): python 6,5; c 6,13;
    // prose 6,5; csv 11,6. The suite's twelve prompts are a small sample, so the order within a pair
    // may differ: each domain's two most used experts must be the README's two.
    view.setLayer(5);
    const auto& m = view.model()->matrix();
    const std::map<std::string, std::vector<int>> readme = {{"python", {6, 5}}, {"c", {6, 13}}, {"prose", {6, 5}}, {"csv", {11, 6}}};
    QStringList mine;
    for (int c = 0; c < int(m.categories.size()); ++c) {
      const auto top = top_experts(m, c, 2);
      QVERIFY(!top.empty());
      const auto& want = readme.at(m.categories[size_t(c)]);
      mine << QStringLiteral("%1: %2,%3").arg(QString::fromStdString(m.categories[size_t(c)])).arg(top[0]).arg(top.size() > 1 ? top[1] : -1);
      QVERIFY2(top.size() == 2 && std::is_permutation(top.begin(), top.end(), want.begin()), qPrintable(mine.join(QStringLiteral("; "))));
      // The view outlines exactly those two experts in that category's column.
      for (int r = 0; r < view.model()->rowCount(); ++r) {
        const int e = view.model()->expertAt(r);
        const int rank = view.model()->index(r, c).data(SpecializationModel::TopExpertRole).toInt();
        QCOMPARE(rank, e == top[0] ? 1 : e == top[1] ? 2 : 0);
        QCOMPARE(int(view.heatmap()->spec().outline[size_t(r) * 4 + c]), rank);
      }
    }
    qInfo("layer 5 top experts from the suite: %s", qPrintable(mine.join(QStringLiteral("; "))));
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    save(view, QStringLiteral("specialization_layer5_npmi.png"));
    view.setMeasure(SpecializationView::Measure::Share);
    save(view, QStringLiteral("specialization_layer5_share.png"));
    view.setMeasure(SpecializationView::Measure::Npmi);
    view.model()->setSort(SpecSort::MaxNpmi);
    view.setLayer(3);
    save(view, QStringLiteral("specialization_layer3_sorted.png"));
    view.setUseTokenClasses(true);
    save(view, QStringLiteral("specialization_token_classes.png"));
  }
};

void TestSpecializationView::insideTheMainWindow() {
  // The main window carries the four analysis docks (hidden until chosen in the View menu); the map's
  // Run button runs the demo suite on the window's model.
  gui::MainWindow w;
  w.resize(1500, 1000);
  for (const char* name : {"driftDock", "specializationDock", "dashboardDock", "compareDock"}) {
    auto* d = w.findChild<QDockWidget*>(QLatin1String(name));
    QVERIFY2(d, name);
    QVERIFY(!d->isVisible());
  }
  QSignalSpy loaded(w.controller(), &gui::SessionController::loaded);
  w.open(kDemo);
  QVERIFY(loaded.wait(60000));
  w.show();
  QVERIFY(QTest::qWaitForWindowExposed(&w));
  auto* dock = w.findChild<QDockWidget*>(QStringLiteral("specializationDock"));
  dock->show();
  dock->raise();
  auto* view = qobject_cast<SpecializationView*>(dock->widget());
  auto* runner = w.findChild<SuiteRunner*>();
  QVERIFY(view && runner);
  QSignalSpy finished(runner, &SuiteRunner::finished);
  view->runButton()->click();
  QVERIFY(finished.wait(120000));
  QCOMPARE(int(runner->results().size()), 12);
  QCOMPARE(view->model()->columnCount(), 4);
  view->setLayer(5);
  w.resizeDocks({dock}, {620}, Qt::Vertical);
  w.resizeDocks({dock}, {1250}, Qt::Horizontal);
  QTest::qWait(50);
  save(w, QStringLiteral("main_window_specialization.png"));
}

QTEST_MAIN(TestSpecializationView)
#include "tst_specialization_view.moc"
