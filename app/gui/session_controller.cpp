// SessionController (see session_controller.h).
#include "app/gui/session_controller.h"

#include <QFileInfo>
#include <QFutureWatcher>
#include <QPointer>
#include <QThread>
#include <QtConcurrent/QtConcurrentRun>

#include "app/gui/session_worker.h"
#include "probes/live/live_snapshot.h"
#include "probes/trace/trace_file.h"
#include "probes/trace/trace_reader.h"

namespace moescope::gui {

namespace {
struct TraceLoad {
  std::vector<RunSnapshot> runs;
  QString error;
};
}  // namespace

SessionController::SessionController(QObject* parent)
    : QObject(parent), m_live(std::make_unique<LiveSnapshot>()), m_thread(new QThread(this)) {
  qRegisterMetaType<moescope::gui::ModelSummary>();
  qRegisterMetaType<moescope::gui::SamplingChoice>();
  qRegisterMetaType<moescope::RunSnapshot>();
  m_thread->setObjectName(QStringLiteral("moescope-session"));
  m_worker = new SessionWorker(m_live.get());
  m_worker->moveToThread(m_thread);
  connect(m_thread, &QThread::finished, m_worker, &QObject::deleteLater);

  connect(m_worker, &SessionWorker::loadProgress, this, &SessionController::loadProgress);
  connect(m_worker, &SessionWorker::loaded, this, [this](const ModelSummary& s, quint64 ticket) {
    // The worker now holds this model, even when a newer open (a trace read) is still running.
    m_summary = s;
    m_has_model = true;
    m_trace_runs.clear();
    m_snapshot.reset();
    m_generation = m_live->generation();
    if (ticket == m_request) setState(State::Ready);
    emit loaded(s);
    emit snapshotChanged(m_snapshot);
  });
  connect(m_worker, &SessionWorker::loadFailed, this, [this](const QString& msg, bool cancelled, quint64 ticket) {
    if (ticket != m_request) return;  // a newer open is running
    setState(restingState());
    emit loadFailed(msg, cancelled);
  });
  connect(m_worker, &SessionWorker::busyChanged, this, [this](bool busy) {
    if (m_state == State::Loading || m_state == State::Trace) return;
    if (!busy) pollNow();
    setState(busy ? State::Busy : (m_has_model ? State::Ready : State::Empty));
  });
  connect(m_worker, &SessionWorker::operationFailed, this, &SessionController::operationFailed);
  connect(m_worker, &SessionWorker::strategyChanged, this, [this](const QString& spec) {
    m_strategy = spec;
    emit strategyChanged(spec);
  });
  connect(m_worker, &SessionWorker::strategyFailed, this, &SessionController::strategyFailed);
  connect(m_worker, &SessionWorker::sequenceChanged, this, [this](int n, int gen, bool eos) {
    pollNow();
    emit sequenceChanged(n, gen, eos);
  });
  m_poll.setInterval(40);
  connect(&m_poll, &QTimer::timeout, this, &SessionController::pollNow);
  m_thread->start();
  m_poll.start();
}

SessionController::~SessionController() {
  m_worker->requestCancel();
  QMetaObject::invokeMethod(m_worker, "close", Qt::QueuedConnection);
  m_thread->quit();
  m_thread->wait();
}

bool SessionController::isTracePath(const QString& path) {
  const QFileInfo fi(path);
  return fi.isFile() && (fi.suffix().compare(QLatin1String("h5"), Qt::CaseInsensitive) == 0 ||
                         fi.suffix().compare(QLatin1String("hdf5"), Qt::CaseInsensitive) == 0);
}

SessionController::State SessionController::restingState() const {
  if (!m_trace_runs.empty()) return State::Trace;
  return m_has_model ? State::Ready : State::Empty;
}

void SessionController::setState(State s) {
  if (s == m_state) return;
  m_state = s;
  emit stateChanged(s);
}

template <class... Args>
void SessionController::invoke(const char* method, Args&&... args) {
  QMetaObject::invokeMethod(m_worker, method, Qt::QueuedConnection, std::forward<Args>(args)...);
}

void SessionController::open(const QString& path, const QString& strategy) {
  if (isTracePath(path))
    openTrace(path);
  else
    openModel(path, strategy);
}

QStringList SessionController::traceRuns() const {
  QStringList out;
  if (m_state != State::Trace) return out;
  for (const RunSnapshot& r : m_trace_runs)
    out << QStringLiteral("%1: %2").arg(QString::fromStdString(r->name), QString::fromStdString(r->strategy));
  return out;
}

void SessionController::selectTraceRun(int index) {
  if (m_state != State::Trace || index < 0 || index >= int(m_trace_runs.size()) || index == m_trace_index) return;
  m_trace_index = index;
  m_snapshot = m_trace_runs[size_t(index)];
  m_strategy = QString::fromStdString(m_snapshot->strategy);
  emit strategyChanged(m_strategy);
  emit snapshotChanged(m_snapshot);
}

void SessionController::openModel(const QString& dir, const QString& strategy) {
  m_worker->requestCancel();  // a load or run in progress gives way to the new one
  m_request = m_worker->newLoadTicket();
  m_reading_trace = false;
  setState(State::Loading);
  invoke("open", Q_ARG(QString, dir), Q_ARG(QString, strategy.isEmpty() ? m_strategy : strategy),
         Q_ARG(quint64, m_request));
}

void SessionController::openTrace(const QString& path) {
  // The open model stays until the trace has been read: a corrupt trace leaves it open.
  m_worker->requestCancel();
  m_request = m_worker->newLoadTicket();  // supersedes a model load in progress
  m_reading_trace = true;
  setState(State::Loading);
  emit loadProgress(0.0, tr("reading %1").arg(path));
  const quint64 request = m_request;
  auto* watcher = new QFutureWatcher<TraceLoad>(this);
  connect(watcher, &QFutureWatcher<TraceLoad>::finished, this, [this, watcher, path, request] {
    watcher->deleteLater();
    if (request != m_request) return;  // a newer open or a cancel superseded this one
    m_reading_trace = false;
    const TraceLoad r = watcher->result();
    if (!r.error.isEmpty()) {
      setState(restingState());
      emit loadFailed(r.error, false);
      return;
    }
    invoke("close");
    m_has_model = false;
    const RunSnapshot& first = r.runs.front();
    ModelSummary s;
    s.path = path;
    s.name = QFileInfo(path).fileName();
    s.family = QString::fromStdString(first->family);
    s.moe_layers = first->num_moe_layers();
    s.layers = s.moe_layers;
    s.experts = first->num_experts;
    s.k = first->k_max;
    s.is_trace = true;
    m_summary = s;
    m_trace_runs = r.runs;
    m_trace_index = 0;
    m_snapshot = first;
    m_strategy = QString::fromStdString(first->strategy);
    setState(State::Trace);
    emit loadProgress(1.0, tr("loaded"));
    emit loaded(s);
    emit strategyChanged(m_strategy);
    emit snapshotChanged(m_snapshot);
  });
  watcher->setFuture(QtConcurrent::run([p = path.toStdString()] {
    TraceLoad r;
    try {
      TraceReader reader(p);
      if (reader.info().runs.empty()) throw std::runtime_error(p + ": the trace has no runs");
      for (const std::string& name : reader.info().runs)
        r.runs.push_back(std::make_shared<const RunData>(reader.read_run(name)));
    } catch (const std::exception& e) {
      r.error = QString::fromStdString(e.what());
    }
    return r;
  }));
}

void SessionController::cancel() {
  m_worker->requestCancel();
  if (m_state == State::Loading && m_reading_trace) {
    // A trace read cannot be interrupted (HDF5 may take up to the reader's time limit); it is
    // abandoned: its result will be stale.
    m_reading_trace = false;
    m_request = m_worker->newLoadTicket();
    setState(restingState());
    emit loadFailed(tr("Loading was cancelled."), true);
  }
}

void SessionController::setPrompt(const QString& text) { invoke("setPrompt", Q_ARG(QString, text)); }
void SessionController::setStrategy(const QString& spec) {
  m_strategy = spec;
  invoke("setStrategy", Q_ARG(QString, spec));
}
void SessionController::setSampling(const SamplingChoice& s) {
  invoke("setSampling", Q_ARG(moescope::gui::SamplingChoice, s));
}
void SessionController::step() { invoke("step"); }
void SessionController::stepBack() { invoke("stepBack"); }
void SessionController::run(int n) { invoke("run", Q_ARG(int, n)); }
void SessionController::runToEnd() { invoke("runToEnd"); }
void SessionController::reset() { invoke("reset"); }

void SessionController::showSnapshot(RunSnapshot run) {
  m_snapshot = std::move(run);
  emit snapshotChanged(m_snapshot);
}

void SessionController::pollNow() {
  if (m_state == State::Trace || !m_has_model) return;
  const uint64_t g = m_live->generation();
  if (g == m_generation) return;
  m_generation = g;
  m_snapshot = m_live->latest();
  emit snapshotChanged(m_snapshot);
}

void SessionController::exportTrace(const QString& path) {
  pollNow();  // the last completed step, even if the view timer has not picked it up yet
  const RunSnapshot run = m_snapshot;
  if (!run || run->num_tokens() == 0) {
    emit exportFinished(path, tr("Nothing to export yet: step or run the prompt first."));
    return;
  }
  auto* watcher = new QFutureWatcher<QString>(this);
  connect(watcher, &QFutureWatcher<QString>::finished, this, [this, watcher, path] {
    watcher->deleteLater();
    emit exportFinished(path, watcher->result());
  });
  watcher->setFuture(QtConcurrent::run([run, p = path.toStdString()]() -> QString {
    try {
      auto file = TraceFile::create(p);
      file->write_run(*run);
      file->close();
      return {};
    } catch (const std::exception& e) {
      return QString::fromStdString(e.what());
    }
  }));
}

}  // namespace moescope::gui
