// SuiteRunner (see suite_runner.h).
#include "app/gui/suite_runner.h"

#include <QFileInfo>
#include <QThread>
#include <algorithm>

#include "engine/session/session.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"
#include "probes/recorder/run_recorder.h"
#include "views/specialization_view.h"

namespace moescope::gui {

SuiteRunner::SuiteRunner(QObject* parent) : QObject(parent) {}

SuiteRunner::~SuiteRunner() {
  cancel();
  if (m_thread) {
    m_thread->wait();
    delete m_thread;
  }
}

void SuiteRunner::cancel() {
  m_cancel = true;
  std::lock_guard<std::mutex> lock(m_session_mutex);
  if (m_session) m_session->cancel();
}

bool SuiteRunner::start(const SuiteRequest& request) {
  if (m_running || request.prompts.isEmpty()) return false;
  if (m_thread) {
    m_thread->wait();
    delete m_thread;
    m_thread = nullptr;
  }
  m_running = true;
  m_cancel = false;
  m_results.clear();
  emit started(int(request.prompts.size()));
  emit progress(0, int(request.prompts.size()), tr("starting"));
  m_thread = QThread::create([this, request] { work(request); });
  m_thread->start();
  return true;
}

void SuiteRunner::work(SuiteRequest req) {
  const int total = int(req.prompts.size());
  // Results travel to the GUI thread as queued lambdas; `this` outlives the thread (the destructor waits).
  auto post = [this](std::function<void()> f) { QMetaObject::invokeMethod(this, std::move(f), Qt::QueuedConnection); };
  QString error;
  bool cancelled = false;
  try {
    if (!m_session || m_session_dir != req.model_dir) {
      post([this, total, dir = req.model_dir] { emit progress(0, total, tr("opening %1").arg(QFileInfo(dir).fileName())); });
      SessionOptions opts;
      opts.threads = std::max(1, QThread::idealThreadCount() - 1);  // leave a core to the GUI thread
      auto s = Session::open(req.model_dir.toStdString(), opts);
      std::lock_guard<std::mutex> lock(m_session_mutex);
      m_session = std::move(s);
      m_session_dir = req.model_dir;
    }
    Session& session = *m_session;
    session.set_strategy(req.strategy.toStdString());
    const ModelConfig& config = session.model().config();
    const Tokenizer* tok = session.tokenizer();
    for (int i = 0; i < total; ++i) {
      if (m_cancel) throw Cancelled();
      const PromptEntry& entry = req.prompts[i];
      session.set_prompt_text(entry.text.toStdString());
      RunData meta;
      meta.name = std::to_string(i);
      meta.model = session.model().directory();
      meta.family = family_name(config.family);
      meta.model_config = config.config_text;
      meta.strategy = session.strategy_spec();
      meta.tokenizer_sha256 = tok ? tok->sha256() : std::string();
      meta.prompt = entry.text.toStdString();
      meta.label = entry.label.toStdString();
      meta.extra_attrs["suite"] = entry.suite.toStdString();
      RunRecorder recorder;
      recorder.begin(std::move(meta), &config);
      recorder.set_prompt_length(session.prompt_length());
      if (tok) {
        auto keep = session.tokenizer_ptr();
        recorder.set_decoder([keep](int32_t id) { return keep->display_piece(id); });
      }
      session.add_sink(&recorder);
      try {
        session.prefill();
        if (req.max_new_tokens > 0) session.run(req.max_new_tokens);
      } catch (...) {
        session.remove_sink(&recorder);
        throw;
      }
      session.remove_sink(&recorder);
      RunSnapshot snap = std::make_shared<const RunData>(recorder.take());
      const QString what = tr("%1 of %2 (%3)").arg(i + 1).arg(total).arg(entry.label.isEmpty() ? entry.suite : entry.label);
      post([this, snap, i, total, what] {
        m_results.push_back(snap);
        emit runFinished(snap);
        emit progress(i + 1, total, what);
      });
    }
  } catch (const Cancelled&) {
    cancelled = true;
  } catch (const std::exception& e) {
    error = QString::fromStdString(e.what());
  }
  if (m_cancel) cancelled = true;
  post([this, cancelled, error] {
    m_running = false;
    emit finished(cancelled, error);
  });
}

void SuiteRunner::attach(views::SpecializationView* view, std::function<SuiteRequest()> make_request) {
  connect(view, &views::SpecializationView::runSuiteRequested, this, [this, view, make_request] {
    const SuiteRequest r = make_request();
    if (r.model_dir.isEmpty()) {
      view->setSuiteMessage(tr("Open a model first: the suite runs on the checkpoint."));
      return;
    }
    if (!start(r)) view->setSuiteMessage(tr("No prompts to run (or a suite is already running)."));
  });
  connect(view, &views::SpecializationView::cancelRequested, this, [this] { cancel(); });
  connect(this, &SuiteRunner::started, view, [view] { view->setSuiteRunning(true); });
  connect(this, &SuiteRunner::progress, view, &views::SpecializationView::setSuiteProgress);
  connect(this, &SuiteRunner::runFinished, view, [this, view](const RunSnapshot&) { view->setRuns(m_results); });
  connect(this, &SuiteRunner::finished, view, [this, view](bool cancelled, const QString& error) {
    view->setSuiteRunning(false);
    view->setSuiteMessage(!error.isEmpty() ? tr("Suite failed: %1").arg(error)
                          : cancelled      ? tr("Cancelled after %1 prompts.").arg(m_results.size())
                                           : tr("Suite done: %1 prompts.").arg(m_results.size()));
  });
}

}  // namespace moescope::gui

// ---- install_analysis_views ------------------------------------------------------------------------

#include <QDir>
#include <QDockWidget>
#include <QFutureWatcher>
#include <QMainWindow>
#include <QMenu>
#include <QtConcurrent/QtConcurrentRun>

#include "app/gui/compare_runner.h"
#include "app/gui/session_controller.h"
#include "probes/trace/trace_reader.h"
#include "views/compare_view.h"
#include "views/dashboard_view.h"
#include "views/drift_view.h"

namespace moescope::gui {

namespace {
QDockWidget* add_dock(QMainWindow* window, QWidget* view, const QString& title, const QString& name, QDockWidget* tab_with) {
  auto* dock = new QDockWidget(title, window);
  dock->setObjectName(name);
  dock->setWidget(view);
  window->addDockWidget(Qt::BottomDockWidgetArea, dock);
  if (tab_with) window->tabifyDockWidget(tab_with, dock);
  dock->hide();
  return dock;
}
}  // namespace

AnalysisViews install_analysis_views(QMainWindow* window, SessionController* controller, QMenu* menu,
                                     const QString& datasets_dir) {
  AnalysisViews a;
  a.drift = new views::DriftView();
  a.specialization = new views::SpecializationView();
  a.dashboard = new views::DashboardView();
  a.compare = new views::CompareView();
  a.suite_runner = new SuiteRunner(window);
  a.compare_runner = new CompareRunner(window);
  QDockWidget* d0 = add_dock(window, a.drift, QObject::tr("Drift"), QStringLiteral("driftDock"), nullptr);
  QDockWidget* d1 = add_dock(window, a.specialization, QObject::tr("Specialisation"), QStringLiteral("specializationDock"), d0);
  QDockWidget* d2 = add_dock(window, a.dashboard, QObject::tr("Throughput"), QStringLiteral("dashboardDock"), d1);
  QDockWidget* d3 = add_dock(window, a.compare, QObject::tr("Compare"), QStringLiteral("compareDock"), d2);
  a.docks = {d0, d1, d2, d3};
  if (menu)
    for (QDockWidget* d : a.docks) menu->addAction(d->toggleViewAction());

  auto model_dir = [controller]() -> QString {
    return controller->hasModel() && !controller->summary().is_trace ? controller->summary().path : QString();
  };
  const QString prompts_dir = QDir(datasets_dir).filePath(QStringLiteral("prompts"));
  a.suite_runner->attach(a.specialization, [controller, model_dir, prompts_dir] {
    QVector<PromptEntry> all = load_prompt_suites(prompts_dir), demo;
    for (const PromptEntry& e : all)
      if (e.suite == QStringLiteral("demo-domains")) demo.push_back(e);
    return SuiteRequest{model_dir(), demo.isEmpty() ? all : demo, controller->strategy()};  // the window's strategy
  });
  a.compare_runner->attach(a.compare, model_dir);

  // Live snapshots: the drift and specialisation views recompute only while visible (the latest
  // snapshot is applied when they are shown); the dashboard always ingests (it coalesces itself).
  auto latest = std::make_shared<RunSnapshot>();
  views::DriftView* drift = a.drift;
  views::SpecializationView* spec = a.specialization;
  SuiteRunner* suite = a.suite_runner;
  auto apply = [=] {
    if (d0->isVisible()) drift->setSnapshot(*latest);
    if (d1->isVisible() && suite->results().empty()) spec->setSnapshot(*latest);
  };
  QObject::connect(controller, &SessionController::snapshotChanged, window, [=, dash = a.dashboard](RunSnapshot run) {
    *latest = run;
    if (controller->state() == SessionController::State::Trace) dash->replay(run);
    else dash->setSnapshot(run);
    apply();
  });
  for (QDockWidget* d : {d0, d1})
    QObject::connect(d, &QDockWidget::visibilityChanged, window, [apply](bool visible) {
      if (visible) apply();
    });
  // A trace with several runs: suites feed the map, compare traces the compare view.
  QObject::connect(controller, &SessionController::loaded, window, [=, cmp = a.compare](const ModelSummary& s) {
    if (!s.is_trace) return;
    auto* watcher = new QFutureWatcher<std::vector<RunData>>(window);
    QObject::connect(watcher, &QFutureWatcher<std::vector<RunData>>::finished, window, [=] {
      std::vector<RunSnapshot> runs;
      try {
        for (RunData& r : watcher->future().result()) runs.push_back(std::make_shared<const RunData>(std::move(r)));
      } catch (const std::exception&) {
        // The controller reports unreadable traces itself.
      }
      watcher->deleteLater();
      if (runs.size() < 2) return;
      spec->setRuns(runs);
      bool forced = false;
      for (const auto& r : runs) {
        auto it = r->extra_attrs.find("compare_mode");
        if (it != r->extra_attrs.end() && it->second == "teacher-forced") forced = true;
      }
      cmp->setRuns(runs, forced);
    });
    const std::string path = s.path.toStdString();
    watcher->setFuture(QtConcurrent::run([path] { return read_trace(path); }));
  });
  return a;
}

}  // namespace moescope::gui
