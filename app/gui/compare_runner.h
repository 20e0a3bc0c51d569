// CompareRunner: runs one prompt under several routing strategies in the background for the compare
// view, with strat's run_comparison (probes/comparison/compare_runner.h) on its own thread and its
// own Session (kept for the next comparison), so the GUI thread never waits. Progress, the runs and
// errors arrive as signals on the GUI thread; cancel() stops the running strategy (Session::cancel).
#pragma once
#include <QObject>
#include <QString>
#include <QStringList>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "probes/run_data.h"

class QThread;

namespace moescope {
class Session;
namespace views {
class CompareView;
}
}  // namespace moescope

namespace moescope::gui {

struct CompareJob {
  QString model_dir;
  QString prompt;
  QStringList strategies;
  int max_new_tokens = 24;
  bool teacher_forced = false;
};

class CompareRunner : public QObject {
  Q_OBJECT
 public:
  explicit CompareRunner(QObject* parent = nullptr);
  ~CompareRunner() override;  // cancels and waits

  bool start(const CompareJob& job);  // false while one runs or with fewer than two strategies
  void cancel();
  bool isRunning() const { return m_running; }
  const std::vector<RunSnapshot>& runs() const { return m_runs; }
  bool teacherForced() const { return m_teacher_forced; }

  // Wires a compare view: its Compare button starts a job on `model_dir()`, Cancel cancels, the runs go
  // to view->setRuns.
  void attach(views::CompareView* view, std::function<QString()> model_dir);

 signals:
  void started(int strategies);
  void progress(int index, int total, const QString& strategy);
  void finished(bool cancelled, const QString& error);  // runs() holds the runs on success

 private:
  void work(CompareJob job);

  QThread* m_thread = nullptr;
  bool m_running = false;
  bool m_teacher_forced = false;
  std::vector<RunSnapshot> m_runs;
  std::atomic<bool> m_cancel{false};
  std::mutex m_session_mutex;
  std::unique_ptr<Session> m_session;
  QString m_session_dir;
};

}  // namespace moescope::gui
