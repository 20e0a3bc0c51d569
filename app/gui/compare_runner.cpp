// CompareRunner (see compare_runner.h).
#include "app/gui/compare_runner.h"

#include <QThread>
#include <algorithm>

#include "engine/session/session.h"
#include "engine/util/error.h"
#include "probes/comparison/compare_runner.h"
#include "views/compare_view.h"

namespace moescope::gui {

CompareRunner::CompareRunner(QObject* parent) : QObject(parent) {}

CompareRunner::~CompareRunner() {
  cancel();
  if (m_thread) {
    m_thread->wait();
    delete m_thread;
  }
}

void CompareRunner::cancel() {
  m_cancel = true;
  std::lock_guard<std::mutex> lock(m_session_mutex);
  if (m_session) m_session->cancel();
}

bool CompareRunner::start(const CompareJob& job) {
  if (m_running || job.strategies.size() < 2) return false;
  if (m_thread) {
    m_thread->wait();
    delete m_thread;
    m_thread = nullptr;
  }
  m_running = true;
  m_cancel = false;
  emit started(int(job.strategies.size()));
  m_thread = QThread::create([this, job] { work(job); });
  m_thread->start();
  return true;
}

void CompareRunner::work(CompareJob job) {
  auto post = [this](std::function<void()> f) { QMetaObject::invokeMethod(this, std::move(f), Qt::QueuedConnection); };
  QString error;
  bool cancelled = false;
  std::vector<RunSnapshot> runs;
  try {
    if (!m_session || m_session_dir != job.model_dir) {
      SessionOptions opts;
      opts.threads = std::max(1, QThread::idealThreadCount() - 1);
      auto s = Session::open(job.model_dir.toStdString(), opts);
      std::lock_guard<std::mutex> lock(m_session_mutex);
      m_session = std::move(s);
      m_session_dir = job.model_dir;
    }
    if (m_cancel) throw Cancelled();
    ComparePrompt prompt;
    prompt.text = job.prompt.toStdString();
    CompareRequest request;
    for (const QString& s : job.strategies) request.strategies.push_back(s.toStdString());
    request.max_new_tokens = job.max_new_tokens;
    request.teacher_forced = job.teacher_forced;
    const int total = int(job.strategies.size());
    CompareOutcome out = run_comparison(*m_session, prompt, request, nullptr, {}, [&](int i) {
      if (m_cancel) throw Cancelled();
      post([this, i, total, spec = job.strategies.value(i)] { emit progress(i, total, spec); });
    });
    for (RunData& r : out.runs) runs.push_back(std::make_shared<const RunData>(std::move(r)));
  } catch (const Cancelled&) {
    cancelled = true;
  } catch (const std::exception& e) {
    error = QString::fromStdString(e.what());
  }
  post([this, runs, cancelled, error, tf = job.teacher_forced] {
    if (!cancelled && error.isEmpty()) {
      m_runs = runs;
      m_teacher_forced = tf;
    }
    m_running = false;
    emit finished(cancelled, error);
  });
}

void CompareRunner::attach(views::CompareView* view, std::function<QString()> model_dir) {
  connect(view, &views::CompareView::runRequested, this,
          [this, view, model_dir](const QString& prompt, const QStringList& specs, int max_new, bool forced) {
            CompareJob job{model_dir(), prompt, specs, max_new, forced};
            if (job.model_dir.isEmpty()) {
              view->setMessage(tr("Open a model first: strategies are compared on the checkpoint."));
              return;
            }
            if (!start(job)) view->setMessage(tr("A comparison is already running."));
          });
  connect(view, &views::CompareView::cancelRequested, this, [this] { cancel(); });
  connect(this, &CompareRunner::started, view, [view] { view->setRunning(true); });
  connect(this, &CompareRunner::progress, view, &views::CompareView::setProgress);
  connect(this, &CompareRunner::finished, view, [this, view](bool cancelled, const QString& error) {
    view->setRunning(false);
    if (!error.isEmpty()) view->setMessage(tr("Comparison failed: %1").arg(error));
    else if (cancelled) view->setMessage(tr("Comparison cancelled."));
    else view->setRuns(m_runs, m_teacher_forced);
  });
}

}  // namespace moescope::gui
