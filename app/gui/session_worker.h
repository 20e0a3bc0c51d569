// SessionWorker: owns the engine Session and the RunRecorder on a worker thread. Every slot is
// invoked through queued calls from SessionController, so the Session is only ever touched by the
// worker thread; cancel requests are the one exception (Session::cancel is thread-safe, loads check
// an atomic flag). Progress goes out as signals; routing data goes out through a LiveSnapshot that
// the GUI polls on its own timer.
#pragma once
#include <QObject>
#include <QString>
#include <atomic>
#include <memory>
#include <mutex>

#include "app/gui/session_types.h"

namespace moescope {
class Session;
class RunRecorder;
class LiveSnapshot;
}  // namespace moescope

namespace moescope::gui {

class SessionWorker : public QObject {
  Q_OBJECT
 public:
  explicit SessionWorker(LiveSnapshot* live, QObject* parent = nullptr);
  ~SessionWorker() override;

  // Any thread: abort a running load, prefill, step or run at the next check.
  void requestCancel();

 public slots:
  void open(const QString& dir, const QString& strategy);
  void setPrompt(const QString& text);
  void setStrategy(const QString& spec);
  void setSampling(const moescope::gui::SamplingChoice& sampling);
  void step();                   // first call: prefill the prompt; then one decode step
  void stepBack();               // drop the last generated token
  void run(int n);               // up to n decode steps (prefill first when needed)
  void runToEnd();               // until EOS or max_new_tokens generated tokens
  void reset();                  // back to the prompt, nothing computed
  void close();                  // drop the session (before the thread ends)

 signals:
  void loadProgress(double fraction, const QString& what);
  void loaded(const moescope::gui::ModelSummary& summary);
  void loadFailed(const QString& message, bool cancelled);
  void busyChanged(bool busy);
  void operationFailed(const QString& message);
  void strategyChanged(const QString& spec);
  void strategyFailed(const QString& message);  // bad spec: the previous strategy stays
  // After every operation: tokens in the sequence, generated so far, whether EOS was reached.
  void sequenceChanged(int tokens, int generated, bool at_eos);

 private:
  void beginRecording();
  template <class F>
  void guarded(F&& f);

  LiveSnapshot* m_live;
  std::unique_ptr<Session> m_session;
  std::unique_ptr<RunRecorder> m_recorder;
  std::mutex m_session_mutex;  // guards m_session pointer changes against requestCancel
  std::atomic<bool> m_cancel_load{false};
  QString m_prompt;
  SamplingChoice m_sampling;
};

}  // namespace moescope::gui
