// Session: sequence bookkeeping around a Backend (prefill, step, rewind, cancel), sampling, and the
// probe callbacks (routing from the backend, logits and step timing from here).
#include "engine/session/session.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "engine/cpu/backend.h"
#include "engine/routing/strategy.h"
#include "engine/session/session_tokenizer.h"
#include "engine/util/error.h"

namespace moescope {

std::unique_ptr<Session> Session::open(const std::string& model_dir, const SessionOptions& opts, LoadProgress* progress) {
  auto model = Model::load(model_dir, progress);
  std::shared_ptr<const Tokenizer> tok = load_session_tokenizer(model_dir);
  return std::make_unique<Session>(std::move(model), std::move(tok), opts);
}

Session::Session(std::shared_ptr<const Model> model, std::shared_ptr<const Tokenizer> tokenizer, const SessionOptions& opts)
    : m_model(std::move(model)), m_tokenizer(std::move(tokenizer)), m_opts(opts) {
  if (!m_model) throw Error("Session: no model");
  m_backend = make_backend(opts.backend, m_model, opts.threads, opts.max_context);
  m_strategy = make_strategy(opts.strategy.empty() ? "native" : opts.strategy, m_model->config());
  m_last_logits.assign(size_t(m_model->config().vocab_size), 0.0f);
}

Session::~Session() = default;

void Session::set_strategy(const std::string& spec) {
  m_strategy = make_strategy(spec, m_model->config());
  m_strategy->reset();
  if (m_computed > 0) m_strategy->rewind(m_computed);
}

std::string Session::strategy_spec() const { return m_strategy->spec(); }

void Session::set_sampling(const SamplingParams& p) { m_sampler.set_params(p); }

void Session::add_sink(ProbeSink* sink) {
  if (sink && std::find(m_sinks.begin(), m_sinks.end(), sink) == m_sinks.end()) m_sinks.push_back(sink);
}

void Session::remove_sink(ProbeSink* sink) { m_sinks.erase(std::remove(m_sinks.begin(), m_sinks.end(), sink), m_sinks.end()); }

void Session::set_prompt_text(const std::string& text, bool add_special_tokens) {
  if (!m_tokenizer) throw Error("model '" + m_model->directory() + "' has no tokenizer.json: give the prompt as token ids");
  set_prompt_ids(session_encode(*m_tokenizer, text, add_special_tokens));
}

void Session::set_prompt_ids(const std::vector<int32_t>& ids) {
  if (ids.empty()) throw Error("empty prompt: give at least one token");
  const int V = m_model->config().vocab_size;
  for (int32_t id : ids)
    if (id < 0 || id >= V)
      throw Error("prompt token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(V));
  m_tokens.reserve(size_t(std::max<int>(max_context(), int(ids.size()))));  // decoding never reallocates
  m_tokens.assign(ids.begin(), ids.end());
  m_recompute_silently = false;
  m_prompt_len = int(ids.size());
  m_computed = 0;
  m_pending = -1;
  m_step_index = 0;
  m_sampler.reseed();
  m_strategy->reset();
  notify_rewind(0);
}

int Session::max_context() const { return m_backend->max_context(); }

bool Session::is_eos(int32_t token) const {
  const auto& eos = m_model->config().eos_token_ids;
  if (std::find(eos.begin(), eos.end(), token) != eos.end()) return true;
  return m_tokenizer && session_tokenizer_is_eos(*m_tokenizer, token);
}

bool Session::at_eos() const { return int(m_tokens.size()) > m_prompt_len && is_eos(m_tokens.back()); }

void Session::begin_operation() { m_cancel.store(false, std::memory_order_relaxed); }

void Session::notify_rewind(int position) {
  for (ProbeSink* s : m_sinks) s->on_rewind(position);
}

void Session::run_tokens(int first, int count, bool silent) {
  const auto t0 = std::chrono::steady_clock::now();
  bool all_logits = false;
  if (!silent)
    for (ProbeSink* s : m_sinks) all_logits = all_logits || s->wants_all_logits();
  ForwardArgs a;
  a.tokens = m_tokens.data() + first;
  a.count = count;
  a.first_position = first;
  a.prefill = first == 0;
  a.all_logits = all_logits;
  a.strategy = m_strategy.get();
  a.sinks = m_sinks.data();
  a.num_sinks = silent ? 0 : int(m_sinks.size());
  a.observer = m_observer;
  a.cancel = &m_cancel;
  const float* logits = m_backend->forward(a);
  const int V = m_model->config().vocab_size;
  const float* last = logits + (all_logits ? size_t(count - 1) * V : 0);
  std::copy(last, last + V, m_last_logits.begin());
  if (all_logits)
    for (ProbeSink* s : m_sinks) s->on_logits(first, count, V, logits);
  m_computed = first + count;
  m_pending = m_sampler.sample(m_last_logits.data(), V);
  if (silent) return;
  StepInfo info;
  info.step_index = m_step_index++;
  info.first_position = first;
  info.num_tokens = count;
  info.prefill = first == 0;
  info.wall_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  info.next_token = m_pending;
  for (ProbeSink* s : m_sinks) s->on_step(info);
}

int32_t Session::prefill() {
  begin_operation();
  return prefill_impl();
}

int32_t Session::prefill_impl() {
  if (m_tokens.empty()) throw Error("no prompt: set a prompt before running");
  const int n = int(m_tokens.size());
  if (n > max_context())
    throw Error("prompt of " + std::to_string(n) + " tokens exceeds the context of " + std::to_string(max_context()));
  if (m_computed < n || m_pending < 0) {
    const int first = std::min(m_computed, n - 1);
    // After a rewind only the last kept token is recomputed, to get its logits back; sinks already
    // hold its routing, so they are not told again.
    run_tokens(first, n - first, m_recompute_silently && first == n - 1);
    m_recompute_silently = false;
  }
  return m_pending;
}

int32_t Session::step() {
  begin_operation();
  return step_impl();
}

int32_t Session::step_impl() {
  if (m_pending < 0 || m_computed < int(m_tokens.size())) prefill_impl();
  const int n = int(m_tokens.size());
  if (n >= max_context())
    throw Error("the sequence has reached the context of " + std::to_string(max_context()) + " tokens");
  const int32_t tok = m_pending;
  m_tokens.push_back(tok);
  try {
    run_tokens(n, 1);
  } catch (...) {
    m_tokens.pop_back();  // leave the sequence as it was; the pending token stays pending
    m_pending = tok;
    throw;
  }
  return tok;
}

int Session::run(int n, bool stop_at_eos) {
  begin_operation();
  int done = 0;
  while (done < n) {
    if (int(m_tokens.size()) >= max_context()) break;
    if (m_cancel.load(std::memory_order_relaxed)) throw Cancelled();
    const int32_t tok = step_impl();
    ++done;
    if (stop_at_eos && is_eos(tok)) break;
  }
  return done;
}

void Session::rewind(int position) {
  if (position < 1 || position > int(m_tokens.size()))
    throw Error("rewind: position " + std::to_string(position) + " is outside the sequence of " +
                std::to_string(m_tokens.size()) + " tokens");
  // Tokens whose routing the sinks hold: the computed ones, plus a kept last token whose silent
  // recompute is still to come.
  const int reported = m_computed + (m_recompute_silently ? 1 : 0);
  const bool keep_last = reported >= position;
  m_tokens.resize(size_t(position));
  m_prompt_len = std::min(m_prompt_len, position);
  // The next step recomputes the last kept token (its logits are not kept per position); the KV of
  // the tokens before it stays cached. Sinks keep their records of all `position` tokens.
  m_computed = std::min(m_computed, position - 1);
  m_pending = -1;
  m_recompute_silently = keep_last;
  m_strategy->rewind(m_computed);
  notify_rewind(keep_last ? position : m_computed);
}

void Session::cancel() { m_cancel.store(true, std::memory_order_relaxed); }

void Session::reset() {
  m_recompute_silently = false;
  m_tokens.resize(size_t(m_prompt_len));
  m_computed = 0;
  m_pending = -1;
  m_step_index = 0;
  m_sampler.reseed();
  m_strategy->reset();
  notify_rewind(0);
}

}  // namespace moescope
