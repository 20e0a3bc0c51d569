// SessionWorker (see session_worker.h).
#include "app/gui/session_worker.h"

#include <QElapsedTimer>
#include <QFileInfo>
#include <QStringList>
#include <QThread>
#include <algorithm>
#include <functional>

#include "engine/session/session.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"
#include "probes/live/live_snapshot.h"
#include "probes/recorder/run_recorder.h"

namespace moescope::gui {

namespace {
// Forwards loader progress as signals (throttled: a checkpoint reports per tensor) and turns a
// cancel request into `false`, which makes the loader throw Cancelled.
class SignalProgress : public LoadProgress {
 public:
  SignalProgress(SessionWorker* worker, std::function<bool()> stop) : m_worker(worker), m_stop(std::move(stop)) {
    m_clock.start();
  }
  bool report(double fraction, const std::string& what) override {
    if (fraction >= 1.0 || fraction - m_last >= 0.01 || m_clock.elapsed() >= 50) {
      m_last = fraction;
      m_clock.restart();
      emit m_worker->loadProgress(fraction, QString::fromStdString(what));
    }
    return !m_stop();
  }

 private:
  SessionWorker* m_worker;
  std::function<bool()> m_stop;
  QElapsedTimer m_clock;
  double m_last = -1;
};
}  // namespace

SessionWorker::SessionWorker(LiveSnapshot* live, QObject* parent) : QObject(parent), m_live(live) {}

SessionWorker::~SessionWorker() { close(); }

void SessionWorker::requestCancel() {
  m_cancelled_ticket = m_load_ticket.load();
  std::lock_guard<std::mutex> lock(m_session_mutex);
  if (m_session) m_session->cancel();
}

quint64 SessionWorker::newLoadTicket() { return ++m_load_ticket; }
bool SessionWorker::loadCancelled(quint64 ticket) const { return m_cancelled_ticket.load() >= ticket; }
bool SessionWorker::loadSuperseded(quint64 ticket) const { return m_load_ticket.load() != ticket; }

void SessionWorker::close() {
  std::unique_ptr<Session> old;
  {
    std::lock_guard<std::mutex> lock(m_session_mutex);
    old = std::move(m_session);
  }
  m_recorder.reset();
}

void SessionWorker::open(const QString& dir, const QString& strategy, quint64 ticket) {
  if (loadSuperseded(ticket)) return;  // a newer open is queued behind this one
  emit busyChanged(true);
  emit loadProgress(0.0, tr("opening %1").arg(dir));
  try {
    if (loadCancelled(ticket)) throw Cancelled();  // cancelled before it started
    SessionOptions opts;
    // Leave one core to the GUI thread so the window stays responsive while the engine computes.
    opts.threads = std::max(1, QThread::idealThreadCount() - 1);
    opts.strategy = strategy.isEmpty() ? std::string("native") : strategy.toStdString();
    SignalProgress progress(this, [this, ticket] { return loadCancelled(ticket) || loadSuperseded(ticket); });
    auto session = Session::open(dir.toStdString(), opts, &progress);
    if (loadCancelled(ticket) || loadSuperseded(ticket)) throw Cancelled();
    // From here on the load cannot fail: the new session replaces the open one.
    auto recorder = std::make_unique<RunRecorder>();
    recorder->set_live(m_live);
    if (session->tokenizer()) {
      auto keep = session->tokenizer_ptr();
      recorder->set_decoder([keep](int32_t id) { return keep->display_piece(id); });
    }
    session->add_sink(recorder.get());
    std::unique_ptr<Session> old;
    {
      std::lock_guard<std::mutex> lock(m_session_mutex);
      old = std::move(m_session);
      m_session = std::move(session);
    }
    old.reset();  // before its recorder, which it holds as a sink
    m_recorder = std::move(recorder);
    const ModelConfig& cfg = m_session->model().config();
    ModelSummary s;
    s.path = dir;
    s.name = QFileInfo(dir).fileName();
    s.family = QString::fromLatin1(family_name(cfg.family));
    s.layers = cfg.num_layers;
    s.moe_layers = cfg.num_moe_layers();
    s.experts = cfg.num_experts;
    s.k = cfg.num_experts_per_tok;
    s.vocab = cfg.vocab_size;
    s.max_context = m_session->max_context();
    QStringList dtypes;  // FP8 / MXFP4 first: they say the most about the checkpoint
    for (const std::string& d : m_session->model().dtypes())
      if (d == "FP8_B128") dtypes.prepend(QStringLiteral("FP8 E4M3"));
      else if (d == "MXFP4") dtypes.prepend(QStringLiteral("MXFP4"));
      else dtypes.append(QString::fromStdString(d));
    s.weights = dtypes.join(QStringLiteral(" + "));
    m_live->clear();
    emit loadProgress(1.0, tr("loaded"));
    emit loaded(s, ticket);
    emit strategyChanged(QString::fromStdString(m_session->strategy_spec()));
  } catch (const Cancelled&) {
    if (!loadSuperseded(ticket)) emit loadFailed(tr("Loading was cancelled."), true, ticket);
  } catch (const std::exception& e) {
    if (!loadSuperseded(ticket)) emit loadFailed(QString::fromStdString(e.what()), false, ticket);
  }
  emit busyChanged(false);
}

void SessionWorker::beginRecording() {
  const ModelConfig& cfg = m_session->model().config();
  RunData meta;
  meta.model = m_session->model().directory();
  meta.family = family_name(cfg.family);
  meta.model_config = cfg.config_text;
  meta.strategy = m_session->strategy_spec();
  meta.backend = "cpu";
  if (const Tokenizer* tok = m_session->tokenizer()) meta.tokenizer_sha256 = tok->sha256();
  meta.prompt = m_prompt.toStdString();
  meta.extra_attrs["sampling"] =
      m_sampling.greedy ? std::string("greedy")
                        : QStringLiteral("temperature=%1 top_p=%2 seed=%3").arg(m_sampling.temperature).arg(m_sampling.top_p).arg(m_sampling.seed).toStdString();
  m_recorder->begin(std::move(meta), &cfg);
  m_recorder->set_prompt_length(m_session->prompt_length());
  m_recorder->reserve(m_session->prompt_length() + m_sampling.max_new_tokens + 1, m_sampling.max_new_tokens + 2);
  m_recorder->publish_now();
}

template <class F>
void SessionWorker::guarded(F&& f) {
  if (!m_session) {
    emit operationFailed(tr("No model is open."));
    return;
  }
  emit busyChanged(true);
  try {
    f();
  } catch (const Cancelled&) {
    // Paused by the user: the session keeps the tokens computed so far.
    trimRecording();
  } catch (const std::exception& e) {
    trimRecording();
    emit operationFailed(QString::fromStdString(e.what()));
  }
  if (m_recorder) m_recorder->publish_now();
  const int n = int(m_session->tokens().size());
  emit sequenceChanged(n, n - m_session->prompt_length(), m_session->position() > 0 && m_session->at_eos());
  emit busyChanged(false);
}

void SessionWorker::trimRecording() {
  // A step interrupted inside the forward pass has told the recorder the routing of some layers of
  // a token that the session then dropped; the shown run must not hold it.
  if (!m_recorder || !m_session) return;
  const int keep = m_session->position() == 0 ? 0 : int(m_session->tokens().size());
  if (m_recorder->data().num_tokens() > keep) m_recorder->on_rewind(keep);
}

void SessionWorker::setPrompt(const QString& text) {
  guarded([&] {
    m_prompt = text;
    m_session->set_prompt_text(text.toStdString());
    beginRecording();
  });
}

void SessionWorker::setStrategy(const QString& spec) {
  if (!m_session) return;
  try {
    m_session->set_strategy(spec.trimmed().toStdString());
    emit strategyChanged(QString::fromStdString(m_session->strategy_spec()));
  } catch (const std::exception& e) {
    emit strategyFailed(QString::fromStdString(e.what()));
  }
}

void SessionWorker::setSampling(const SamplingChoice& choice) {
  m_sampling = choice;
  if (!m_session) return;
  try {
    SamplingParams p;
    p.greedy = choice.greedy;
    p.temperature = float(choice.temperature);
    p.top_p = float(choice.top_p);
    p.seed = choice.seed;
    m_session->set_sampling(p);
  } catch (const std::exception& e) {
    emit operationFailed(QString::fromStdString(e.what()));
  }
}

void SessionWorker::step() {
  guarded([&] {
    if (m_session->tokens().empty()) throw Error("no prompt: type a prompt or pick one from the list");
    if (m_session->position() == 0)
      m_session->prefill();
    else
      m_session->step();
  });
}

void SessionWorker::stepBack() {
  guarded([&] {
    const int n = int(m_session->tokens().size());
    if (n > m_session->prompt_length()) {
      m_session->rewind(n - 1);
    } else if (m_session->position() > 0) {
      m_session->reset();  // back before the prefill: the prompt is shown again without routing
      beginRecording();
    }
  });
}

void SessionWorker::run(int n) {
  guarded([&] {
    if (m_session->tokens().empty()) throw Error("no prompt: type a prompt or pick one from the list");
    if (m_session->position() == 0) m_session->prefill();
    if (n > 0) m_session->run(n, /*stop_at_eos=*/true);
  });
}

void SessionWorker::runToEnd() {
  guarded([&] {
    if (m_session->tokens().empty()) throw Error("no prompt: type a prompt or pick one from the list");
    if (m_session->position() == 0) m_session->prefill();
    const int generated = int(m_session->tokens().size()) - m_session->prompt_length();
    const int left = m_sampling.max_new_tokens - generated;
    if (left > 0 && !m_session->at_eos()) m_session->run(left, /*stop_at_eos=*/true);
  });
}

void SessionWorker::reset() {
  guarded([&] {
    m_session->reset();
    beginRecording();
  });
}

}  // namespace moescope::gui
