// SessionController with the real demo checkpoint: loading in the background (the GUI event loop
// keeps ticking: max gap of a 10 ms timer < 100 ms while loading and generating, not counting time the GUI
// thread was ready to run but waiting for a CPU, which other tests on a 2-core CI machine cause), stepping, step
// back, run, pause, bad paths and specs, export + reopen of a trace. Routing shown by the GUI is
// compared with a Session driven directly on this thread (no GUI code involved).
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

#include "app/gui/screenshots.h"
#include "app/gui/session_controller.h"
#include "engine/session/session.h"
#include "probes/recorder/run_recorder.h"
#include "probes/trace/trace_file.h"
#include "probes/trace/trace_reader.h"

using namespace moescope;
using namespace moescope::gui;

namespace {
const QString kDemo = QStringLiteral(MOESCOPE_DATASETS_DIR "/moescope-demo-mixtral");
const QString kPrompt = QStringLiteral("def add(a, b):\n    return a + b\n");

// Nanoseconds this thread has spent runnable but waiting for a CPU (second field of the scheduler's
// statistics, /proc/thread-self/schedstat); 0 where the kernel does not report it.
int64_t run_queue_wait_ns() {
  std::ifstream in("/proc/thread-self/schedstat");
  int64_t on_cpu = 0, waiting = 0;
  return (in >> on_cpu >> waiting) ? waiting : 0;
}

bool wait_state(SessionController& c, SessionController::State s, int ms = 60000) {
  return wait_until([&] { return c.state() == s; }, ms);
}

// Runs one request and waits until the worker reported its end (sequenceChanged) and is idle.
bool do_op(SessionController& c, const std::function<void()>& op, int ms = 60000) {
  QSignalSpy spy(&c, &SessionController::sequenceChanged);
  op();
  return wait_until([&] { return spy.count() > 0 && c.state() == SessionController::State::Ready; }, ms);
}

// The same run without the GUI: Session + RunRecorder on this thread.
RunData reference_run(int new_tokens, const std::string& strategy = "native") {
  SessionOptions opts;
  opts.strategy = strategy;
  auto s = Session::open(kDemo.toStdString(), opts);
  RunRecorder rec;
  s->add_sink(&rec);
  s->set_prompt_text(kPrompt.toStdString());
  RunData meta;
  rec.begin(meta, &s->model().config());
  rec.set_prompt_length(s->prompt_length());
  s->prefill();
  if (new_tokens > 0) s->run(new_tokens, true);
  return rec.take();
}
}  // namespace

class TestSessionController : public QObject {
  Q_OBJECT
 private slots:
  void loadsAndStaysResponsive() {
    SessionController c;
    QElapsedTimer clock;
    // A gap counts the time the GUI thread was running or blocked (the things this test is about), not the
    // time it was runnable but queued behind other processes' threads.
    qint64 last = 0, max_gap = 0, max_wall_gap = 0;
    int64_t last_wait = run_queue_wait_ns();
    QTimer tick;
    tick.setInterval(10);
    connect(&tick, &QTimer::timeout, this, [&] {
      const qint64 now = clock.elapsed();
      const int64_t wait = run_queue_wait_ns();
      max_wall_gap = std::max(max_wall_gap, now - last);
      max_gap = std::max(max_gap, now - last - (wait - last_wait) / 1000000);
      last = now;
      last_wait = wait;
    });
    QSignalSpy loaded(&c, &SessionController::loaded);
    QSignalSpy progress(&c, &SessionController::loadProgress);
    clock.start();
    tick.start();
    c.openModel(kDemo);
    QCOMPARE(c.state(), SessionController::State::Loading);
    QVERIFY(wait_state(c, SessionController::State::Ready));
    QCOMPARE(loaded.count(), 1);
    QVERIFY(progress.count() >= 2);
    const ModelSummary s = loaded.at(0).at(0).value<ModelSummary>();
    QCOMPARE(s.family, QStringLiteral("mixtral"));
    QCOMPARE(s.experts, 16);  // config.json num_local_experts
    QCOMPARE(s.k, 2);         // num_experts_per_tok
    QCOMPARE(s.layers, 6);
    QVERIFY(do_op(c, [&] { c.setPrompt(kPrompt); }));
    QVERIFY(do_op(c, [&] { c.run(256); }, 120000));
    tick.stop();
    qInfo("max event-loop gap while loading and generating: %lld ms (%lld ms with waits for a CPU)", max_gap,
          max_wall_gap);
    QVERIFY2(max_gap < 100, qPrintable(QStringLiteral("event loop stalled for %1 ms").arg(max_gap)));
    QVERIFY(c.snapshot());
    QVERIFY(c.snapshot()->num_tokens() > 0);
  }

  void stepsMatchADirectSession() {
    SessionController c;
    c.openModel(kDemo);
    QVERIFY(wait_state(c, SessionController::State::Ready));
    QVERIFY(do_op(c, [&] { c.setPrompt(kPrompt); }));
    QVERIFY(do_op(c, [&] { c.step(); }));  // prefill
    const RunData ref0 = reference_run(0);
    RunSnapshot s = c.snapshot();
    QVERIFY(s);
    QCOMPARE(s->num_tokens(), ref0.num_tokens());
    QCOMPARE(s->token_ids, ref0.token_ids);
    QVERIFY(std::all_of(s->is_prompt.begin(), s->is_prompt.end(), [](uint8_t p) { return p == 1; }));
    const int prompt_len = s->num_tokens();
    for (int i = 0; i < 5; ++i) QVERIFY(do_op(c, [&] { c.step(); }));
    s = c.snapshot();
    QCOMPARE(s->num_tokens(), prompt_len + 5);
    const RunData ref5 = reference_run(5);
    QCOMPARE(s->token_ids, ref5.token_ids);
    QCOMPARE(s->experts, ref5.experts);
    QCOMPARE(s->router_logits.size(), ref5.router_logits.size());
    for (size_t i = 0; i < s->router_logits.size(); ++i) QCOMPARE(s->router_logits[i], ref5.router_logits[i]);
    QCOMPARE(int(s->token_text.size()), s->num_tokens());
    // Step back twice, then forward again: the same greedy tokens come back.
    QVERIFY(do_op(c, [&] { c.stepBack(); }));
    QVERIFY(do_op(c, [&] { c.stepBack(); }));
    QCOMPARE(c.snapshot()->num_tokens(), prompt_len + 3);
    QVERIFY(do_op(c, [&] { c.run(2); }));
    QCOMPARE(c.snapshot()->token_ids, ref5.token_ids);
    QCOMPARE(c.snapshot()->experts, ref5.experts);
    // Reset: back to the prompt with nothing computed.
    QVERIFY(do_op(c, [&] { c.reset(); }));
    QCOMPARE(c.snapshot()->num_tokens(), 0);
  }

  void runToEndStopsAtMaxTokens() {
    SessionController c;
    c.openModel(kDemo);
    QVERIFY(wait_state(c, SessionController::State::Ready));
    SamplingChoice sc;
    sc.max_new_tokens = 7;
    c.setSampling(sc);
    QVERIFY(do_op(c, [&] { c.setPrompt(kPrompt); }));
    QSignalSpy seq(&c, &SessionController::sequenceChanged);
    QVERIFY(do_op(c, [&] { c.runToEnd(); }));
    const int generated = seq.last().at(1).toInt();
    const bool eos = seq.last().at(2).toBool();
    QVERIFY(generated == 7 || (eos && generated < 7));
  }

  void pauseStopsALongRun() {
    SessionController c;
    c.openModel(kDemo);
    QVERIFY(wait_state(c, SessionController::State::Ready));
    QVERIFY(do_op(c, [&] { c.setPrompt(kPrompt); }));
    QSignalSpy seq(&c, &SessionController::sequenceChanged);
    c.run(900);
    QVERIFY(wait_state(c, SessionController::State::Busy, 10000));
    QTest::qWait(150);
    c.pause();
    QVERIFY(wait_until([&] { return seq.count() > 0 && c.state() == SessionController::State::Ready; }, 10000));
    qInfo("paused after %d generated tokens", seq.last().at(1).toInt());
    QVERIFY2(seq.last().at(1).toInt() < 900, "the run was not paused");
    QVERIFY2(!seq.last().at(2).toBool(), "the run ended at EOS, not by the pause");
  }

  void badPathReportsTheLoaderMessage() {
    SessionController c;
    QSignalSpy failed(&c, &SessionController::loadFailed);
    c.openModel(QStringLiteral("/nonexistent/moescope-model"));
    QVERIFY(wait_until([&] { return failed.count() > 0; }, 30000));
    const QString msg = failed.at(0).at(0).toString();
    QVERIFY2(msg.contains(QStringLiteral("/nonexistent/moescope-model")), qPrintable(msg));
    QCOMPARE(failed.at(0).at(1).toBool(), false);
    QCOMPARE(c.state(), SessionController::State::Empty);
  }

  void strategies() {
    SessionController c;
    c.openModel(kDemo);
    QVERIFY(wait_state(c, SessionController::State::Ready));
    QSignalSpy bad(&c, &SessionController::strategyFailed);
    c.setStrategy(QStringLiteral("topk:99"));
    QVERIFY(wait_until([&] { return bad.count() > 0; }, 10000));
    QVERIFY2(bad.at(0).at(0).toString().contains(QStringLiteral("topk")), qPrintable(bad.at(0).at(0).toString()));
    QSignalSpy changed(&c, &SessionController::strategyChanged);
    c.setStrategy(QStringLiteral("topk:1"));
    QVERIFY(wait_until([&] { return changed.count() > 0; }, 10000));
    QCOMPARE(changed.last().at(0).toString(), QStringLiteral("topk:1"));
    QVERIFY(do_op(c, [&] { c.setPrompt(kPrompt); }));
    QVERIFY(do_op(c, [&] { c.run(3); }));
    const RunSnapshot s = c.snapshot();
    const RunData ref = reference_run(3, "topk:1");
    QCOMPARE(s->token_ids, ref.token_ids);
    for (int t = 0; t < s->num_tokens(); ++t)
      for (int l = 0; l < s->num_moe_layers(); ++l) {
        QVERIFY(s->experts_at(t, l)[0] >= 0);
        for (int k = 1; k < s->k_max; ++k) QCOMPARE(s->experts_at(t, l)[k], -1);  // one expert per token
      }
  }

  void exportAndReopenTrace() {
    QTemporaryDir tmp;
    const QString path = tmp.filePath(QStringLiteral("gui-trace.h5"));
    SessionController c;
    c.openModel(kDemo);
    QVERIFY(wait_state(c, SessionController::State::Ready));
    QVERIFY(do_op(c, [&] { c.setPrompt(kPrompt); }));
    QVERIFY(do_op(c, [&] { c.run(4); }));
    const RunSnapshot shown = c.snapshot();
    QSignalSpy exported(&c, &SessionController::exportFinished);
    c.exportTrace(path);
    QVERIFY(wait_until([&] { return exported.count() > 0; }, 30000));
    QCOMPARE(exported.at(0).at(1).toString(), QString());
    // Read back with the probes' reader, independently of the GUI.
    const auto runs = read_trace(path.toStdString());
    QCOMPARE(int(runs.size()), 1);
    QCOMPARE(runs[0].token_ids, shown->token_ids);
    QCOMPARE(runs[0].experts, shown->experts);
    QCOMPARE(runs[0].family, std::string("mixtral"));
    // Open the trace: same data, no model.
    QSignalSpy snaps(&c, &SessionController::snapshotChanged);
    c.openTrace(path);
    QVERIFY(wait_state(c, SessionController::State::Trace));
    QVERIFY(!c.hasModel());
    QCOMPARE(c.snapshot()->token_ids, shown->token_ids);
    QCOMPARE(c.snapshot()->weights, shown->weights);
    QVERIFY(snaps.count() > 0);
    // A trace with two runs (as `moescope compare` writes): both listed, either can be shown.
    const QString two = tmp.filePath(QStringLiteral("two-runs.h5"));
    {
      RunData a = *shown, b = *shown;
      a.name = "0";
      b.name = "1";
      b.strategy = "hash";
      std::reverse(b.token_ids.begin(), b.token_ids.end());
      auto file = TraceFile::create(two.toStdString());
      file->write_run(a);
      file->write_run(b);
      file->close();
    }
    c.openTrace(two);
    QVERIFY(wait_until([&] { return c.state() == SessionController::State::Trace && c.traceRuns().size() == 2; }, 30000));
    QCOMPARE(c.traceRuns().at(1), QStringLiteral("1: hash"));
    QCOMPARE(c.snapshot()->token_ids, shown->token_ids);
    QSignalSpy strategy(&c, &SessionController::strategyChanged);
    c.selectTraceRun(1);
    QCOMPARE(c.traceRun(), 1);
    QCOMPARE(c.strategy(), QStringLiteral("hash"));
    std::vector<int64_t> reversed = shown->token_ids;
    std::reverse(reversed.begin(), reversed.end());
    QCOMPARE(c.snapshot()->token_ids, reversed);
    QCOMPARE(strategy.count(), 1);
    // A file that is not a trace fails with the reader's message.
    QSignalSpy failed(&c, &SessionController::loadFailed);
    const QString junk = tmp.filePath(QStringLiteral("junk.h5"));
    QFile f(junk);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("not hdf5");
    f.close();
    c.openTrace(junk);
    QVERIFY(wait_until([&] { return failed.count() > 0; }, 30000));
    QVERIFY(!failed.at(0).at(0).toString().isEmpty());
  }
};

QTEST_MAIN(TestSessionController)
#include "tst_session_controller.moc"
