// SuiteRunner: runs a whole prompt suite (e.g. datasets/prompts/demo-domains.jsonl) in the background
// for the specialisation map. The work happens on its own thread with its own Session (opened from the
// checkpoint directory and kept for the next suite), never on the GUI thread and never touching the
// main window's SessionWorker. Each prompt becomes one RunData (label = the prompt's domain);
// progress, each finished run and the end are reported as signals on the GUI thread; cancel() stops
// the running prompt at its next step (Session::cancel) and skips the rest.
// install_analysis_views() (end of this file) adds the part-II analysis views (drift, specialisation
// map, throughput dashboard, compare) to the main window as docks fed by its SessionController, with
// the background runners they need, so the main window only has to call it.
#pragma once
#include <QObject>
#include <QString>
#include <QVector>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "app/gui/prompt_suites.h"
#include "probes/run_data.h"

class QDockWidget;
class QMainWindow;
class QMenu;
class QThread;

namespace moescope {
class Session;
namespace views {
class CompareView;
class DashboardView;
class DriftView;
class SpecializationView;
}  // namespace views
}  // namespace moescope

namespace moescope::gui {

struct SuiteRequest {
  QString model_dir;
  QVector<PromptEntry> prompts;
  QString strategy = QStringLiteral("native");
  int max_new_tokens = 0;  // 0: prompt tokens only (the label describes the prompt text)
};

class SuiteRunner : public QObject {
  Q_OBJECT
 public:
  explicit SuiteRunner(QObject* parent = nullptr);
  ~SuiteRunner() override;  // cancels and waits for the thread

  // False (and nothing started) while a suite is running or without prompts.
  bool start(const SuiteRequest& request);
  void cancel();  // any thread
  bool isRunning() const { return m_running; }
  const std::vector<RunSnapshot>& results() const { return m_results; }

  // Wires a specialisation view: its Run button starts `make_request()`, Cancel cancels, progress and
  // the growing set of runs go to the view.
  void attach(views::SpecializationView* view, std::function<SuiteRequest()> make_request);

 signals:
  void started(int total);
  void progress(int done, int total, const QString& what);
  void runFinished(moescope::RunSnapshot run);
  // After the last prompt, a cancel or an error (message empty on success).
  void finished(bool cancelled, const QString& error);

 private:
  void work(SuiteRequest request);  // worker thread

  QThread* m_thread = nullptr;
  bool m_running = false;
  std::vector<RunSnapshot> m_results;
  std::atomic<bool> m_cancel{false};
  std::mutex m_session_mutex;        // guards m_session against cancel() from the GUI thread
  std::unique_ptr<Session> m_session;
  QString m_session_dir;
};

class CompareRunner;
class SessionController;

struct AnalysisViews {
  views::DriftView* drift = nullptr;
  views::SpecializationView* specialization = nullptr;
  views::DashboardView* dashboard = nullptr;
  views::CompareView* compare = nullptr;
  SuiteRunner* suite_runner = nullptr;
  CompareRunner* compare_runner = nullptr;
  QList<QDockWidget*> docks;  // objectNames driftDock, specializationDock, dashboardDock, compareDock
};

// Creates the four views as tabbed bottom docks of `window` (hidden until shown from `menu`, where one
// toggle action per dock is added when menu is non-null). Live runs arrive through
// controller->snapshotChanged (applied to a view when it is visible); a saved trace is replayed in
// the dashboard, and a trace with several runs feeds the specialisation map (labelled suite runs) and
// the compare view. The suite runs the datasets_dir/prompts suites ("demo-domains" when present).
AnalysisViews install_analysis_views(QMainWindow* window, SessionController* controller, QMenu* menu,
                                     const QString& datasets_dir);

}  // namespace moescope::gui
