// SessionController: the GUI thread's handle on the engine. It owns a QThread with a SessionWorker,
// forwards requests as queued invocations (never touching the Session itself), and publishes the
// run as immutable snapshots: a 40 ms QTimer polls the LiveSnapshot and emits snapshotChanged only
// when a new one was published, so views refresh at <= 25 Hz whatever the decode rate. Saved traces
// are read on a thread pool and shown through the same signal.
//
// Opening is safe to fail: while a checkpoint or trace is being opened the state is Loading, and a
// failed or cancelled open returns to what was open before (the model with its sequence, the trace,
// or nothing), the way a desktop app keeps the current document when "open" fails. Only a newer
// open supersedes an older one; its signals are then dropped.
#pragma once
#include <QObject>
#include <QString>
#include <QStringList>
#include <vector>
#include <QTimer>
#include <memory>

#include "app/gui/session_types.h"

class QThread;

namespace moescope {
class LiveSnapshot;
}

namespace moescope::gui {

class SessionWorker;

class SessionController : public QObject {
  Q_OBJECT
 public:
  enum class State { Empty, Loading, Ready, Busy, Trace };
  Q_ENUM(State)

  explicit SessionController(QObject* parent = nullptr);
  ~SessionController() override;

  State state() const { return m_state; }
  bool hasModel() const { return m_has_model; }
  const ModelSummary& summary() const { return m_summary; }
  RunSnapshot snapshot() const { return m_snapshot; }
  QString strategy() const { return m_strategy; }
  // Runs of the open trace ("name: strategy"), empty when no trace is open; a compare trace has one
  // run per strategy.
  QStringList traceRuns() const;
  void selectTraceRun(int index);
  int traceRun() const { return m_trace_index; }

  // A checkpoint directory or a .h5 trace. `strategy`: the routing strategy a new model starts with
  // (empty: the current one); the open model's strategy is left alone, should the open fail.
  void open(const QString& path, const QString& strategy = QString());
  void openModel(const QString& dir, const QString& strategy = QString());
  void openTrace(const QString& path);
  // A running load (the model load or trace read is abandoned: loadFailed(.., true) and the
  // previous state), or a running step/run (pause).
  void cancel();

  void setPrompt(const QString& text);
  void setStrategy(const QString& spec);
  void setSampling(const SamplingChoice& sampling);
  void step();
  void stepBack();
  void run(int n);
  void runToEnd();
  void pause() { cancel(); }
  void reset();
  // Writes the current run as an HDF5 trace on a pool thread; exportFinished reports the outcome.
  void exportTrace(const QString& path);
  // Show a run without a model (tests, screenshots).
  void showSnapshot(RunSnapshot run);
  // Publish at once instead of waiting for the next timer tick.
  void pollNow();

  static bool isTracePath(const QString& path);

 signals:
  void stateChanged(moescope::gui::SessionController::State state);
  void loadProgress(double fraction, const QString& what);
  void loaded(const moescope::gui::ModelSummary& summary);
  void loadFailed(const QString& message, bool cancelled);
  void operationFailed(const QString& message);
  void strategyChanged(const QString& spec);
  void strategyFailed(const QString& message);
  void snapshotChanged(moescope::RunSnapshot run);
  void sequenceChanged(int tokens, int generated, bool at_eos);
  void exportFinished(const QString& path, const QString& error);  // error empty on success

 private:
  void setState(State s);
  // What is open when nothing is being opened: a trace, a model, or nothing.
  State restingState() const;
  template <class... Args>
  void invoke(const char* method, Args&&... args);

  std::unique_ptr<LiveSnapshot> m_live;
  QThread* m_thread;
  SessionWorker* m_worker;
  QTimer m_poll;
  uint64_t m_generation = 0;
  State m_state = State::Empty;
  bool m_has_model = false;
  ModelSummary m_summary;
  RunSnapshot m_snapshot;
  QString m_strategy = QStringLiteral("native");
  quint64 m_request = 0;         // the newest open (a worker load ticket); older ones are stale
  bool m_reading_trace = false;  // the newest open is a trace read on the pool
  std::vector<RunSnapshot> m_trace_runs;
  int m_trace_index = 0;
};

}  // namespace moescope::gui
