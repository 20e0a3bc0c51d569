// SessionWorker: owns the engine Session and the RunRecorder on a worker thread. Every slot is
// invoked through queued calls from SessionController, so the Session is only ever touched by the
// worker thread; cancel requests are the one exception (Session::cancel is thread-safe, loads check
// atomic tickets). Progress goes out as signals; routing data goes out through a LiveSnapshot that
// the GUI polls on its own timer.
//
// A load replaces the open session only when it succeeds: a failed or cancelled load leaves the
// previous model, its sequence and its recording as they were (a failed "open" does not close the
// current document). Each load has a ticket from newLoadTicket(), taken on the GUI thread when the
// load is requested, so a cancel that comes before the worker even starts the load is not lost, and
// a newer request silently supersedes an older one.
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
  // Any thread: a ticket for the next open(); it supersedes (cancels without a signal) every
  // earlier load.
  quint64 newLoadTicket();

 public slots:
  // Loads `dir`; on success the new session replaces the open one. Emits loaded or loadFailed with
  // the ticket, or nothing when a newer ticket superseded this one.
  void open(const QString& dir, const QString& strategy, quint64 ticket);
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
  void loaded(const moescope::gui::ModelSummary& summary, quint64 ticket);
  void loadFailed(const QString& message, bool cancelled, quint64 ticket);
  void busyChanged(bool busy);
  void operationFailed(const QString& message);
  void strategyChanged(const QString& spec);
  void strategyFailed(const QString& message);  // bad spec: the previous strategy stays
  // After every operation: tokens in the sequence, generated so far, whether EOS was reached.
  void sequenceChanged(int tokens, int generated, bool at_eos);

 private:
  void beginRecording();
  bool loadCancelled(quint64 ticket) const;
  bool loadSuperseded(quint64 ticket) const;
  // After a cancelled operation: forget the routing the recorder got for a token the session dropped.
  void trimRecording();
  template <class F>
  void guarded(F&& f);

  LiveSnapshot* m_live;
  std::unique_ptr<Session> m_session;
  std::unique_ptr<RunRecorder> m_recorder;
  std::mutex m_session_mutex;  // guards m_session pointer changes against requestCancel
  std::atomic<quint64> m_load_ticket{0};       // the newest requested load
  std::atomic<quint64> m_cancelled_ticket{0};  // loads with tickets <= this are cancelled
  QString m_prompt;
  SamplingChoice m_sampling;
};

}  // namespace moescope::gui
