// Live throughput dashboard: the ring buffer's samples against hand-computed step timings, window and
// size eviction, reset detection; the view's coalescing (many snapshots, at most one refresh per 40 ms
// tick); a replayed demo run rendered offscreen.
#include <QChart>
#include <QChartView>
#include <QElapsedTimer>
#include <QLineSeries>
#include <QScatterSeries>
#include <QDockWidget>
#include <QMainWindow>
#include <QMenu>
#include <QSignalSpy>
#include <QtTest>
#include <cmath>

#include "app/gui/session_controller.h"
#include "app/gui/suite_runner.h"
#include "engine/session/session.h"
#include "engine/tokenizer/tokenizer.h"
#include "probes/recorder/run_recorder.h"
#include "views/dashboard_buffer.h"
#include "views/dashboard_view.h"
#include "views/drift_view.h"

using namespace moescope;
using namespace moescope::views;

namespace {
const QString kDemo = QStringLiteral(MOESCOPE_DATASETS_DIR "/moescope-demo-mixtral");

// E = 2, one MoE layer, K = 1. Step 0: prefill of 4 tokens in 8 ms (experts 0,0,0,1);
// steps 1..: decode of one token each in `decode_ms` ms (expert 1).
RunData make_run(int decode_steps, double decode_ms = 2.0) {
  RunData r;
  r.family = "mixtral";
  r.num_experts = 2;
  r.k_max = 1;
  r.moe_layers = {0};
  auto add_token = [&r](int e) {
    r.token_ids.push_back(1);
    r.token_text.push_back("x");
    r.is_prompt.push_back(1);
    r.router_logits.push_back(0.f);
    r.router_logits.push_back(0.f);
    r.experts.push_back(e);
    r.weights.push_back(1.f);
    r.dropped.push_back(0);
  };
  for (int e : {0, 0, 0, 1}) add_token(e);
  r.step_ns.push_back(8'000'000);
  r.step_tokens.push_back(4);
  r.step_prefill.push_back(1);
  r.step_first_position.push_back(0);
  for (int s = 0; s < decode_steps; ++s) {
    r.step_first_position.push_back(r.num_tokens());
    add_token(1);
    r.step_ns.push_back(int64_t(decode_ms * 1e6));
    r.step_tokens.push_back(1);
    r.step_prefill.push_back(0);
  }
  return r;
}

RunSnapshot demo_run(int new_tokens) {
  SessionOptions opts;
  opts.threads = 2;
  auto s = Session::open(kDemo.toStdString(), opts);
  s->set_prompt_text("The package provides a command line tool to convert files between formats.");
  RunRecorder rec;
  RunData meta;
  meta.family = "mixtral";
  rec.begin(meta, &s->model().config());
  rec.set_prompt_length(s->prompt_length());
  s->add_sink(&rec);
  s->prefill();
  s->run(new_tokens, false);
  s->remove_sink(&rec);
  return std::make_shared<const RunData>(rec.take());
}
}  // namespace

class TestDashboardView : public QObject {
  Q_OBJECT
 private slots:
  void samplesByHand() {
    DashboardBuffer b(300.0);
    RunData empty = make_run(0);
    empty.step_ns.clear();
    empty.step_tokens.clear();
    empty.step_prefill.clear();
    empty.step_first_position.clear();
    QVERIFY(!b.ingest(empty, 0.0, 100.0));  // no step yet
    const RunData r1 = make_run(0);
    QVERIFY(b.ingest(r1, 1.0, 100.0));
    QCOMPARE(int(b.samples().size()), 1);
    const DashboardSample& s = b.samples().back();
    QCOMPARE(s.tokens_per_s, 4 / 0.008);        // 500 tokens/s
    QCOMPARE(s.prefill_ms_per_token, 2.0);      // 8 ms / 4 tokens
    QVERIFY(std::isnan(s.decode_ms_per_token));
    QCOMPARE(s.load, (std::vector<double>{0.75, 0.25}));
    QCOMPARE(s.rss_mb, 100.0);
    QVERIFY(!b.ingest(r1, 1.5, 100.0));  // nothing new
    // Three decode steps of 2 ms: 1 token / 2 ms = 500 tokens/s, 2 ms per token, all on expert 1.
    QVERIFY(b.ingest(make_run(3), 2.0, 101.0));
    const DashboardSample& d = b.samples().back();
    QCOMPARE(d.tokens_per_s, 3 / 0.006);
    QCOMPARE(d.decode_ms_per_token, 2.0);
    QVERIFY(std::isnan(d.prefill_ms_per_token));
    QCOMPARE(d.load, (std::vector<double>{0.0, 1.0}));
    QCOMPARE(d.tokens, 7);
    // A shorter run (reset) counts from its start: its prefill is a new sample.
    QVERIFY(b.ingest(make_run(0), 3.0, 101.0));
    QCOMPARE(int(b.samples().size()), 3);
    QCOMPARE(b.samples().back().prefill_ms_per_token, 2.0);
  }

  void windowAndCapacity() {
    DashboardBuffer b(10.0, 5);
    for (int i = 0; i < 4; ++i) {
      DashboardSample s;
      s.t_s = i * 4.0;  // 0, 4, 8, 12: the 10 s window keeps 4, 8, 12
      b.push(s);
    }
    QCOMPARE(int(b.samples().size()), 3);
    QCOMPARE(b.samples().front().t_s, 4.0);
    for (int i = 0; i < 10; ++i) {
      DashboardSample s;
      s.t_s = 12.0 + i * 0.1;
      b.push(s);
    }
    QCOMPARE(int(b.samples().size()), 5);  // ring buffer capacity
    QCOMPARE(b.samples().back().t_s, 12.0 + 0.9);
  }

  void longSessionIsDecimated() {
    // 5000 decode samples in the buffer: each plotted series keeps at most 600 points (+ the newest).
    DashboardView view;
    RunData r = make_run(5000, 1.0);
    view.replay(std::make_shared<const RunData>(r));
    QCOMPARE(int(view.buffer().samples().size()), 5001);
    auto* tps = qobject_cast<QLineSeries*>(view.throughputChart()->chart()->series().at(0));
    QVERIFY(tps);
    QVERIFY2(tps->count() <= 602 && tps->count() >= 500, qPrintable(QString::number(tps->count())));
    QCOMPARE(tps->at(tps->count() - 1).x(), view.buffer().samples().back().t_s);  // the newest is kept
  }

  void replayOneSamplePerStep() {
    DashboardBuffer b;
    b.replay(make_run(2, 4.0));
    QCOMPARE(int(b.samples().size()), 3);
    QCOMPARE(b.samples()[0].t_s, 0.008);
    QCOMPARE(b.samples()[1].t_s, 0.012);
    QCOMPARE(b.samples()[2].decode_ms_per_token, 4.0);
    QCOMPARE(b.samples()[1].load, (std::vector<double>{0.0, 1.0}));
  }

  void coalescesSnapshots() {
    DashboardView view;
    const int before = view.refreshCount();
    // 200 snapshots as fast as possible, each one step longer: the view refreshes on its own timer.
    for (int i = 1; i <= 200; ++i) view.setSnapshot(std::make_shared<const RunData>(make_run(i)));
    QCOMPARE(view.refreshCount(), before);  // nothing painted synchronously
    QTest::qWait(300);
    // No event was processed during the burst, so one tick ingested the newest snapshot and the later
    // ticks found nothing new: one refresh, one sample holding all 201 steps (prefill + 200 decodes).
    QCOMPARE(view.refreshCount() - before, 1);
    QCOMPARE(int(view.buffer().samples().size()), 1);
    QCOMPARE(view.buffer().samples().back().decode_ms_per_token, 2.0);
    QCOMPARE(view.buffer().samples().back().tokens, 204);
    QVERIFY(view.throughputChart()->chart()->series().size() == 1);
  }

  void liveSessionThroughTheController() {
    // The docks installed on a window follow a live session run by the SessionController's worker.
    QMainWindow window;
    gui::SessionController controller;
    const gui::AnalysisViews a = gui::install_analysis_views(&window, &controller, nullptr, QStringLiteral(MOESCOPE_DATASETS_DIR));
    QCOMPARE(a.docks.size(), 4);
    QSignalSpy loaded(&controller, &gui::SessionController::loaded);
    controller.openModel(kDemo);
    QVERIFY(loaded.wait(60000));
    window.show();
    a.docks[0]->show();  // drift: recomputes only while visible
    QSignalSpy sequence(&controller, &gui::SessionController::sequenceChanged);
    controller.setPrompt(QStringLiteral("The package provides a command line tool"));
    controller.run(30);
    QTRY_VERIFY_WITH_TIMEOUT(!sequence.isEmpty() && sequence.last().at(1).toInt() >= 30, 60000);
    controller.pollNow();
    QTRY_VERIFY_WITH_TIMEOUT(a.dashboard->buffer().samples().size() >= 1, 5000);
    QTRY_VERIFY_WITH_TIMEOUT(a.drift->snapshot() && a.drift->snapshot()->num_tokens() >= 31, 5000);
    int steps = 0;
    for (const auto& s : a.dashboard->buffer().samples()) steps += std::isfinite(s.tokens_per_s) ? 1 : 0;
    QVERIFY(steps >= 1);
    QCOMPARE(a.dashboard->buffer().samples().back().tokens, a.drift->snapshot()->num_tokens());
  }

  void liveDemoAndReplay() {
    // Live: feed the growing demo run as the session controller would, snapshot by snapshot.
    const RunSnapshot full = demo_run(40);
    DashboardView view;
    view.resize(1300, 760);
    for (int n = 1; n <= full->num_steps(); ++n) {
      auto part = std::make_shared<RunData>(*full);
      const int tokens = n < full->num_steps() ? full->step_first_position[size_t(n)] : full->num_tokens();
      part->step_ns.resize(size_t(n));
      part->step_tokens.resize(size_t(n));
      part->step_prefill.resize(size_t(n));
      part->step_first_position.resize(size_t(n));
      part->token_ids.resize(size_t(tokens));
      view.setSnapshot(part);
      QTest::qWait(DashboardView::kRefreshMs + 10);
    }
    QVERIFY(view.buffer().samples().size() >= 30);
    for (const auto& s : view.buffer().samples()) QVERIFY(std::isfinite(s.rss_mb) && s.rss_mb > 1.0);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QTest::qWait(100);
    QDir().mkpath(QStringLiteral(MOESCOPE_SCREENSHOT_DIR));
    QVERIFY(view.grab().save(QStringLiteral(MOESCOPE_SCREENSHOT_DIR "/dashboard_live.png")));
    view.replay(full);
    QCOMPARE(int(view.buffer().samples().size()), full->num_steps());
    QTest::qWait(100);  // the chart scenes update in the event loop
    QVERIFY(view.grab().save(QStringLiteral(MOESCOPE_SCREENSHOT_DIR "/dashboard_trace.png")));
  }
};

QTEST_MAIN(TestDashboardView)
#include "tst_dashboard_view.moc"
