// The GUI survives what goes wrong and goes on working: failing loads (truncated safetensors,
// malformed config.json, unknown architecture), a cancelled load or trace read, a run paused
// mid-way, corrupt traces. After each, the controller is in a usable state, a model that was open
// stays open (as in any desktop app, a failed "open" does not close the current document), and
// tokens computed afterwards equal a Session driven directly on this thread (no GUI code involved).
// The main window shows the error (dialog + status bar) and its controls work again.
#include <QDir>
#include <QFile>
#include <QPushButton>
#include <QSemaphore>
#include <QThread>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>

#include "app/gui/main_window.h"
#include "app/gui/prompt_panel.h"
#include "app/gui/screenshots.h"
#include "app/gui/session_controller.h"
#include "engine/session/session.h"
#include "probes/recorder/run_recorder.h"
#include "probes/trace/trace_file.h"

using namespace moescope;
using namespace moescope::gui;
using State = SessionController::State;

namespace {
const QString kDemo = QStringLiteral(MOESCOPE_DATASETS_DIR "/moescope-demo-mixtral");
// A second, different checkpoint (tiny, no tokenizer: the prompt is given as text only to the demo).
const QString kSmall = QStringLiteral(MOESCOPE_FIXTURES_DIR "/models/mixtral/model");
const QString kCorrupt = QStringLiteral(MOESCOPE_FIXTURES_DIR "/corrupt");
const QString kPrompt = QStringLiteral("def add(a, b):\n    return a + b\n");

bool wait_state(SessionController& c, State s, int ms = 60000) {
  return wait_until([&] { return c.state() == s; }, ms);
}

// Runs one request and waits until the worker reported its end (sequenceChanged) and is idle.
bool do_op(SessionController& c, const std::function<void()>& op, int ms = 60000) {
  QSignalSpy spy(&c, &SessionController::sequenceChanged);
  op();
  return wait_until([&] { return spy.count() > 0 && c.state() == State::Ready; }, ms);
}

// Waits for the next loadFailed and for the controller to leave Loading; the message, or "" when
// none came. A little more time is given to catch a late state change (the worker's busy signal).
QString wait_failure(SessionController& c, QSignalSpy& failed, int ms = 30000) {
  if (!wait_until([&] { return failed.count() > 0 && c.state() != State::Loading; }, ms)) return {};
  QTest::qWait(100);
  return failed.last().at(0).toString();
}

// The demo prompt run without the GUI: Session + RunRecorder on this thread, greedy.
RunData reference_run(int new_tokens) {
  auto s = Session::open(kDemo.toStdString(), SessionOptions{});
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

int generated(const RunSnapshot& s) {
  return int(std::count(s->is_prompt.begin(), s->is_prompt.end(), uint8_t(0)));
}

// The shown run equals the direct one: tokens, experts, router logits.
bool same_run(const RunSnapshot& s, const RunData& ref, QString* why) {
  if (!s) return *why = QStringLiteral("no snapshot"), false;
  if (s->token_ids != ref.token_ids)
    return *why = QStringLiteral("token ids differ (%1 vs %2 tokens)").arg(s->num_tokens()).arg(ref.num_tokens()), false;
  if (s->experts != ref.experts) return *why = QStringLiteral("experts differ"), false;
  if (s->router_logits != ref.router_logits) return *why = QStringLiteral("router logits differ"), false;
  return true;
}

// A copy of the tiny mixtral fixture checkpoint in `tmp`/name, to be damaged by the caller.
QString fixture_copy(const QTemporaryDir& tmp, const QString& name) {
  const QString dir = tmp.filePath(name);
  std::filesystem::copy(kSmall.toStdString(), dir.toStdString(), std::filesystem::copy_options::recursive);
  return dir;
}

bool truncate_file(const QString& path, qint64 size) {
  QFile f(path);
  return f.open(QIODevice::ReadWrite) && f.resize(size);
}

bool write_file(const QString& path, const QByteArray& bytes) {
  QFile f(path);
  return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(bytes) == bytes.size();
}

struct BrokenModel {
  QString dir;
  QString file;     // the file the message must name
  QString problem;  // words of the problem the message must contain
};

// Four ways a checkpoint directory can be broken, made from the good fixture at test time.
std::vector<BrokenModel> broken_models(const QTemporaryDir& tmp) {
  std::vector<BrokenModel> out;
  {
    const QString dir = fixture_copy(tmp, QStringLiteral("truncated"));
    const QString file = dir + QStringLiteral("/model.safetensors");
    if (!truncate_file(file, QFileInfo(file).size() / 2)) qFatal("cannot truncate %s", qPrintable(file));
    out.push_back({dir, file, QStringLiteral("out of range")});
  }
  {
    const QString dir = fixture_copy(tmp, QStringLiteral("bad-config"));
    const QString file = dir + QStringLiteral("/config.json");
    if (!write_file(file, "{\"architectures\": [\"MixtralForCausalLM\"], \"hidden_size\": 64,\n"))
      qFatal("cannot write %s", qPrintable(file));
    out.push_back({dir, file, QStringLiteral("invalid JSON")});
  }
  {
    const QString dir = fixture_copy(tmp, QStringLiteral("unknown-arch"));
    const QString file = dir + QStringLiteral("/config.json");
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot read %s", qPrintable(file));
    QByteArray text = f.readAll();
    f.close();
    text.replace("\"model_type\": \"mixtral\"", "\"model_type\": \"foobar\"");
    text.replace("MixtralForCausalLM", "FoobarForCausalLM");
    if (!write_file(file, text)) qFatal("cannot write %s", qPrintable(file));
    out.push_back({dir, file, QStringLiteral("unsupported architecture 'foobar'")});
  }
  {
    const QString dir = fixture_copy(tmp, QStringLiteral("truncated-header"));
    const QString file = dir + QStringLiteral("/model.safetensors");
    if (!truncate_file(file, 100)) qFatal("cannot truncate %s", qPrintable(file));
    out.push_back({dir, file, QStringLiteral("beyond the end of the file")});
  }
  return out;
}

// Loads the demo, sets the prompt and generates `n` tokens.
bool ready_with_tokens(SessionController& c, int n) {
  c.openModel(kDemo);
  if (!wait_state(c, State::Ready)) return false;
  if (!do_op(c, [&] { c.setPrompt(kPrompt); })) return false;
  return do_op(c, [&] { c.run(n); });
}

// Holds the controller's worker thread until release(): requests queued meanwhile wait behind it,
// so a cancel given right after a request comes, for sure, before the worker starts that request
// (a tiny checkpoint loads in a millisecond).
class WorkerHold {
 public:
  explicit WorkerHold(SessionController& c) : m_go(std::make_shared<QSemaphore>()) {
    QThread* thread = c.findChild<QThread*>(QStringLiteral("moescope-session"));
    if (!thread) qFatal("no session thread");
    m_object = new QObject;
    m_object->moveToThread(thread);
    auto started = std::make_shared<QSemaphore>();
    QMetaObject::invokeMethod(m_object, [started, go = m_go] {
      started->release();
      go->acquire();
    }, Qt::QueuedConnection);
    started->acquire();
  }
  ~WorkerHold() {
    release();
    m_object->deleteLater();
  }
  void release() {
    if (!m_released) m_go->release();
    m_released = true;
  }

 private:
  std::shared_ptr<QSemaphore> m_go;
  QObject* m_object;
  bool m_released = false;
};

bool wait_ready(MainWindow& w, int ms = 60000) {
  return wait_until([&] { return w.controller()->state() == State::Ready; }, ms);
}
// Closes the error dialog like the user's OK; the window is active again (the offscreen platform does
// not hand activation back by itself, and shortcuts need an active window).
bool close_error(MainWindow& w) {
  if (!w.lastErrorBox()) return false;
  w.lastErrorBox()->close();
  w.activateWindow();
  return QTest::qWaitForWindowActive(&w);
}
bool press(MainWindow& w, int key, Qt::KeyboardModifiers mod = {}) {
  QSignalSpy seq(w.controller(), &SessionController::sequenceChanged);
  QTest::keyClick(&w, Qt::Key(key), mod);
  return wait_until([&] { return seq.count() > 0 && w.controller()->state() == State::Ready; }, 60000);
}
}  // namespace

#define VERIFY_SAME_RUN(snapshot, ref)                \
  do {                                                \
    QString why_;                                     \
    QVERIFY2(same_run(snapshot, ref, &why_), qPrintable(why_)); \
  } while (0)

class TestGuiReliability : public QObject {
  Q_OBJECT
  QTemporaryDir m_settings_dir;

 public:
  // The trace reader reads in a forked child, which HDF5 crashes on the corrupt fixture; the child
  // inherits QtTest's crash handler, which would attach a debugger to print that expected crash.
  TestGuiReliability() { qputenv("QTEST_DISABLE_STACK_DUMP", "1"); }

 private slots:
  void initTestCase() {
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_settings_dir.path());
    QCoreApplication::setOrganizationName(QStringLiteral("MoEScopeTest"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_gui_reliability"));
  }

  // 1. Each broken checkpoint: a failure naming the file and the problem, the controller back to
  //    Empty; then the demo loads and runs like a direct session.
  void failingLoadsLeaveAUsableController() {
    QTemporaryDir tmp;
    SessionController c;
    for (const BrokenModel& b : broken_models(tmp)) {
      QSignalSpy failed(&c, &SessionController::loadFailed);
      QSignalSpy loaded(&c, &SessionController::loaded);
      c.openModel(b.dir);
      QCOMPARE(c.state(), State::Loading);
      const QString msg = wait_failure(c, failed);
      QVERIFY2(!msg.isEmpty(), qPrintable(b.dir));
      QVERIFY2(msg.contains(b.file), qPrintable(msg));
      QVERIFY2(msg.contains(b.problem), qPrintable(msg));
      QCOMPARE(failed.last().at(1).toBool(), false);  // not a cancel
      QCOMPARE(loaded.count(), 0);
      QCOMPARE(c.state(), State::Empty);
      QVERIFY(!c.hasModel());
    }
    // An operation without a model is refused with a message, not a crash.
    QSignalSpy op_failed(&c, &SessionController::operationFailed);
    c.step();
    QVERIFY(wait_until([&] { return op_failed.count() > 0; }, 10000));
    QCOMPARE(c.state(), State::Empty);
    QVERIFY(ready_with_tokens(c, 3));
    VERIFY_SAME_RUN(c.snapshot(), reference_run(3));
    QCOMPARE(c.summary().path, kDemo);
  }

  // 2. A model is open; opening a broken one fails and the open model stays, usable, with its
  //    sequence; also when the failing open interrupts a long run.
  void failingLoadKeepsTheOpenModel() {
    QTemporaryDir tmp;
    const auto broken = broken_models(tmp);
    SessionController c;
    QVERIFY(ready_with_tokens(c, 4));
    const RunSnapshot before = c.snapshot();
    QCOMPARE(generated(before), 4);
    for (const BrokenModel& b : broken) {
      QSignalSpy failed(&c, &SessionController::loadFailed);
      c.openModel(b.dir);
      QCOMPARE(c.state(), State::Loading);
      const QString msg = wait_failure(c, failed);
      QVERIFY2(msg.contains(b.file) && msg.contains(b.problem), qPrintable(msg));
      QCOMPARE(c.state(), State::Ready);
      QVERIFY(c.hasModel());
      QCOMPARE(c.summary().path, kDemo);
      QCOMPARE(c.summary().experts, 16);  // the demo's, not the fixture's 4
      QCOMPARE(c.summary().weights, QStringLiteral("BF16"));  // the demo's bf16 checkpoint, as held in memory
      c.pollNow();
      QCOMPARE(c.snapshot()->token_ids, before->token_ids);
    }
    // The sequence goes on where it was.
    QVERIFY(do_op(c, [&] { c.run(3); }));
    VERIFY_SAME_RUN(c.snapshot(), reference_run(7));
    QVERIFY(do_op(c, [&] { c.stepBack(); }));
    QCOMPARE(generated(c.snapshot()), 6);

    // A failing open while a long run is going: the run pauses, the model stays.
    QSignalSpy failed(&c, &SessionController::loadFailed);
    c.run(900);
    QVERIFY(wait_state(c, State::Busy, 10000));
    QTest::qWait(100);
    c.openModel(broken[1].dir);
    QVERIFY(!wait_failure(c, failed).isEmpty());
    QCOMPARE(c.state(), State::Ready);
    c.pollNow();
    const int g = generated(c.snapshot());
    QVERIFY2(g < 900, "the run was not interrupted");
    QVERIFY(do_op(c, [&] { c.run(2); }));
    VERIFY_SAME_RUN(c.snapshot(), reference_run(g + 2));
  }

  // 3. Cancel a load: without a model the controller is Empty again, with one the old model stays;
  //    a new load then succeeds. A trace read that hangs can be cancelled too.
  void cancelledLoadRestoresThePreviousState() {
    SessionController c;
    {
      QSignalSpy failed(&c, &SessionController::loadFailed);
      QSignalSpy loaded(&c, &SessionController::loaded);
      WorkerHold hold(c);
      c.openModel(kDemo);
      c.cancel();
      hold.release();
      QVERIFY(!wait_failure(c, failed).isEmpty());
      QCOMPARE(failed.last().at(1).toBool(), true);
      QCOMPARE(loaded.count(), 0);
      QCOMPARE(c.state(), State::Empty);
      QVERIFY(!c.hasModel());
    }
    QVERIFY(ready_with_tokens(c, 2));
    {
      QSignalSpy failed(&c, &SessionController::loadFailed);
      QSignalSpy loaded(&c, &SessionController::loaded);
      WorkerHold hold(c);
      c.openModel(kSmall);  // a different model: cancelling keeps the demo
      c.cancel();
      hold.release();
      QVERIFY(!wait_failure(c, failed).isEmpty());
      QCOMPARE(failed.last().at(1).toBool(), true);
      QCOMPARE(loaded.count(), 0);
      QCOMPARE(c.state(), State::Ready);
      QCOMPARE(c.summary().path, kDemo);
      QVERIFY(do_op(c, [&] { c.run(2); }));
      VERIFY_SAME_RUN(c.snapshot(), reference_run(4));
    }
#if defined(__SANITIZE_ADDRESS__)
    qInfo("cancel of a hanging trace read not checked under AddressSanitizer: HDF5 crashes on that file there"
          " instead of looping, so the read fails before Cancel");
#else
    {
      // HDF5 loops forever on this file (the reader gives up after 10 s); Cancel must not wait.
      QSignalSpy failed(&c, &SessionController::loadFailed);
      c.openTrace(kCorrupt + QStringLiteral("/hdf5-hang-min.h5"));
      QCOMPARE(c.state(), State::Loading);
      QTest::qWait(200);
      QElapsedTimer clock;
      clock.start();
      c.cancel();
      QVERIFY(!wait_failure(c, failed, 3000).isEmpty());
      QVERIFY2(clock.elapsed() < 3000, "cancelling the trace read waited for it");
      QCOMPARE(failed.last().at(1).toBool(), true);
      QCOMPARE(c.state(), State::Ready);
      QVERIFY(c.hasModel());
      QVERIFY(do_op(c, [&] { c.step(); }));
      VERIFY_SAME_RUN(c.snapshot(), reference_run(5));
    }
#endif
    // The cancelled loads left nothing behind: another model loads.
    QSignalSpy loaded(&c, &SessionController::loaded);
    c.openModel(kSmall);
    QVERIFY(wait_until([&] { return loaded.count() > 0 && c.state() == State::Ready; }, 30000));
    QCOMPARE(c.summary().path, kSmall);
    QCOMPARE(c.summary().experts, 4);
    QCOMPARE(c.summary().weights, QStringLiteral("F32"));
    // A fine-grained FP8 checkpoint says so in the summary (the status bar shows it).
    loaded.clear();
    c.openModel(QStringLiteral(MOESCOPE_FIXTURES_DIR "/models/qwen3_moe_fp8/model"));
    QVERIFY(wait_until([&] { return loaded.count() > 0 && c.state() == State::Ready; }, 30000));
    QCOMPARE(c.summary().weights, QStringLiteral("FP8 E4M3 + F32"));
  }

  // 4. Long runs paused mid-way continue exactly like an uninterrupted greedy run; step back works
  //    after a pause.
  void pausedRunContinuesLikeAnUninterruptedOne() {
    SessionController c;
    c.openModel(kDemo);
    QVERIFY(wait_state(c, State::Ready));
    QVERIFY(do_op(c, [&] { c.setPrompt(kPrompt); }));
    int g = 0;
    for (int pause = 0; pause < 2; ++pause) {
      QSignalSpy seq(&c, &SessionController::sequenceChanged);
      c.run(900);
      QVERIFY(wait_state(c, State::Busy, 10000));
      QTest::qWait(120);
      c.pause();
      QVERIFY(wait_until([&] { return seq.count() > 0 && c.state() == State::Ready; }, 10000));
      QVERIFY2(!seq.last().at(2).toBool(), "the run ended at EOS, not by the pause");
      const int now = seq.last().at(1).toInt();
      QVERIFY2(now < 900, "the run was not paused");
      QVERIFY(now >= g);
      g = now;
      c.pollNow();
      QCOMPARE(generated(c.snapshot()), g);
    }
    qInfo("paused twice, after %d generated tokens", g);
    QVERIFY(do_op(c, [&] { c.run(3); }));
    const RunData ref = reference_run(g + 3);
    VERIFY_SAME_RUN(c.snapshot(), ref);
    // Pause again, then step back twice and step forward: the same tokens come back.
    QSignalSpy seq(&c, &SessionController::sequenceChanged);
    c.run(900);
    QVERIFY(wait_state(c, State::Busy, 10000));
    QTest::qWait(50);
    c.pause();
    QVERIFY(wait_until([&] { return seq.count() > 0 && c.state() == State::Ready; }, 10000));
    const int g2 = seq.last().at(1).toInt();
    QVERIFY(g2 >= g + 3 && g2 < g + 3 + 900);
    QVERIFY(do_op(c, [&] { c.stepBack(); }));
    QVERIFY(do_op(c, [&] { c.stepBack(); }));
    c.pollNow();
    QCOMPARE(generated(c.snapshot()), g2 - 2);
    QVERIFY(do_op(c, [&] { c.step(); }));
    VERIFY_SAME_RUN(c.snapshot(), reference_run(g2 - 1));
  }

  // 5. Corrupt traces: an error naming the file; the open model (or the open trace) stays.
  void corruptTracesKeepWhatIsOpen() {
    QTemporaryDir tmp;
    SessionController c;
    QVERIFY(ready_with_tokens(c, 3));
    const RunSnapshot shown = c.snapshot();
    // A good trace of the shown run, and damaged files next to it.
    const QString good = tmp.filePath(QStringLiteral("good.h5"));
    {
      QSignalSpy exported(&c, &SessionController::exportFinished);
      c.exportTrace(good);
      QVERIFY(wait_until([&] { return exported.count() > 0; }, 30000));
      QCOMPARE(exported.at(0).at(1).toString(), QString());
    }
    const QString truncated = tmp.filePath(QStringLiteral("truncated.h5"));
    QVERIFY(QFile::copy(good, truncated));
    QVERIFY(truncate_file(truncated, QFileInfo(good).size() / 2));
    const QString junk = tmp.filePath(QStringLiteral("junk.h5"));
    QVERIFY(write_file(junk, "this is not an HDF5 file\n"));
    const QString empty = tmp.filePath(QStringLiteral("empty.h5"));
    QVERIFY(write_file(empty, QByteArray()));
    const QStringList bad = {kCorrupt + QStringLiteral("/hdf5-crash-attr-iterate.h5"), truncated, junk, empty};

    for (const QString& path : bad) {
      QSignalSpy failed(&c, &SessionController::loadFailed);
      c.openTrace(path);
      const QString msg = wait_failure(c, failed);
      QVERIFY2(msg.contains(path), qPrintable(path + QStringLiteral(": ") + msg));
      QCOMPARE(failed.last().at(1).toBool(), false);
      QCOMPARE(c.state(), State::Ready);
      QVERIFY(c.hasModel());
      QCOMPARE(c.summary().path, kDemo);
      c.pollNow();
      QCOMPARE(c.snapshot()->token_ids, shown->token_ids);
    }
    QVERIFY(do_op(c, [&] { c.run(2); }));
    VERIFY_SAME_RUN(c.snapshot(), reference_run(5));

    // With a trace open, a corrupt one leaves it open.
    c.openTrace(good);
    QVERIFY(wait_state(c, State::Trace, 30000));
    QCOMPARE(c.snapshot()->token_ids, shown->token_ids);
    for (const QString& path : bad) {
      QSignalSpy failed(&c, &SessionController::loadFailed);
      c.openTrace(path);
      QVERIFY2(wait_failure(c, failed).contains(path), qPrintable(path));
      QCOMPARE(c.state(), State::Trace);
      QCOMPARE(c.summary().path, good);
      QCOMPARE(c.traceRuns().size(), 1);
      QCOMPARE(c.snapshot()->token_ids, shown->token_ids);
    }
    // ... and a failing model load too.
    QSignalSpy failed(&c, &SessionController::loadFailed);
    c.openModel(broken_models(tmp)[1].dir);
    QVERIFY(!wait_failure(c, failed).isEmpty());
    QCOMPARE(c.state(), State::Trace);
    QCOMPARE(c.snapshot()->token_ids, shown->token_ids);
    // A good model still opens from there.
    QVERIFY(ready_with_tokens(c, 1));
    VERIFY_SAME_RUN(c.snapshot(), reference_run(1));
  }

  // 6. The window: the error is shown (dialog and status bar), the controls work again, and the
  //    open model's sequence goes on where it was; the Cancel button cancels a load.
  void windowShowsTheErrorAndStaysUsable() {
    QTemporaryDir tmp;
    const BrokenModel bad = broken_models(tmp)[1];
    MainWindow w;
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    auto* cancel = w.findChild<QPushButton*>(QStringLiteral("cancelLoadButton"));
    QVERIFY(cancel);
    // Without a model: error shown, Open works, stepping stays off.
    w.open(bad.dir);
    QVERIFY(wait_until([&] { return w.lastErrorBox() != nullptr && w.controller()->state() != State::Loading; }, 30000));
    QVERIFY(w.lastErrorBox()->isVisible());
    QVERIFY2(w.lastErrorBox()->text().contains(bad.file), qPrintable(w.lastErrorBox()->text()));
    QVERIFY(w.statusBar()->currentMessage().contains(bad.problem));
    QVERIFY(w.action(QStringLiteral("actionOpen"))->isEnabled());
    QVERIFY(!w.action(QStringLiteral("actionStep"))->isEnabled());
    QVERIFY(!cancel->isVisible());
    QVERIFY(close_error(w));

    w.promptPanel()->setPromptText(kPrompt);
    w.open(kDemo);
    QVERIFY(wait_ready(w));
    QVERIFY(press(w, Qt::Key_F10));  // prefill
    QVERIFY(press(w, Qt::Key_F10));
    QVERIFY(press(w, Qt::Key_F10));
    w.controller()->pollNow();
    QCOMPARE(generated(w.controller()->snapshot()), 2);
    const QString title = w.windowTitle();

    // A failing open with a model: the dialog names the file, the controls are back, the title, the
    // strategy and the sequence are the demo's. The panel holds a strategy that was typed but not
    // applied: it is meant for the model being opened, not for the open one.
    w.promptPanel()->setStrategy(QStringLiteral("topk:1"));
    w.open(bad.dir);
    QVERIFY(!w.action(QStringLiteral("actionStep"))->isEnabled());  // disabled while loading
    QVERIFY(wait_until([&] { return w.lastErrorBox() != nullptr && w.controller()->state() == State::Ready; }, 30000));
    QTest::qWait(100);
    QVERIFY2(w.lastErrorBox()->text().contains(bad.file), qPrintable(w.lastErrorBox()->text()));
    QVERIFY2(w.lastErrorBox()->text().contains(bad.problem), qPrintable(w.lastErrorBox()->text()));
    QVERIFY(close_error(w));
    for (const char* n : {"actionOpen", "actionStep", "actionStepBack", "actionRunN", "actionRunToEnd", "actionReset"})
      QVERIFY2(w.action(QLatin1String(n))->isEnabled(), n);
    QVERIFY(!w.action(QStringLiteral("actionPause"))->isEnabled());
    QVERIFY(!cancel->isVisible());
    QCOMPARE(w.windowTitle(), title);
    QCOMPARE(w.controller()->strategy(), QStringLiteral("native"));
    QVERIFY(press(w, Qt::Key_F10));  // goes on: one more token, not a new prefill
    w.findChild<QSpinBox*>(QStringLiteral("runNSpin"))->setValue(2);
    QVERIFY(press(w, Qt::Key_F6));
    w.controller()->pollNow();
    VERIFY_SAME_RUN(w.controller()->snapshot(), reference_run(5));

    // The Cancel button shown while loading cancels: the demo stays, the controls are back.
    QSignalSpy failed(w.controller(), &SessionController::loadFailed);
    WorkerHold hold(*w.controller());
    w.open(kSmall);
    QVERIFY(cancel->isVisible());
    QSignalSpy clicked(cancel, &QPushButton::clicked);
    QTest::mouseClick(cancel, Qt::LeftButton);
    QCOMPARE(clicked.count(), 1);
    hold.release();
    QVERIFY(wait_until([&] { return failed.count() > 0 && w.controller()->state() == State::Ready; }, 30000));
    QCOMPARE(failed.last().at(1).toBool(), true);
    QVERIFY(w.statusBar()->currentMessage().contains(QStringLiteral("cancelled")));
    QVERIFY(!cancel->isVisible());
    QVERIFY(w.action(QStringLiteral("actionStep"))->isEnabled());
    QCOMPARE(w.windowTitle(), title);
    QVERIFY(press(w, Qt::Key_F10));
    w.controller()->pollNow();
    VERIFY_SAME_RUN(w.controller()->snapshot(), reference_run(6));
  }
};

QTEST_MAIN(TestGuiReliability)
#include "tst_gui_reliability.moc"
