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
