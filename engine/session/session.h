// The stepping Session: one model + tokenizer + backend + routing strategy, one sequence.
// Used by the CLI and (from a worker thread) by the GUI. Not thread-safe: one thread drives it;
// cancel() may be called from any thread.
//
// Sequence model: tokens() = prompt + generated tokens. position() tokens have their KV cached.
// After prefill()/step() the session holds a *pending* token, sampled from the last logits but not
// yet part of the sequence; step() appends it, runs it and samples the next one.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "engine/probe/probe_sink.h"
#include "engine/session/sampler.h"

namespace moescope {

class Tokenizer;        // engine/tokenizer/tokenizer.h
class RoutingStrategy;  // engine/routing/strategy.h
class Backend;          // engine/cpu/backend.h
class ForwardObserver;  // engine/cpu/backend.h

struct SessionOptions {
  std::string backend = "cpu";  // "cpu" | "cuda"
  int threads = 0;              // 0 = all cores
  int max_context = 0;          // 0 = config max_position_embeddings (capped to fit memory)
  std::string strategy = "native";
};

class Session {
 public:
  // Load a checkpoint directory (config.json, safetensors, tokenizer.json when present).
  static std::unique_ptr<Session> open(const std::string& model_dir, const SessionOptions& opts = {},
                                       LoadProgress* progress = nullptr);
  Session(std::shared_ptr<const Model> model, std::shared_ptr<const Tokenizer> tokenizer,
          const SessionOptions& opts);
  ~Session();

  const Model& model() const { return *m_model; }
  std::shared_ptr<const Model> model_ptr() const { return m_model; }
  const Tokenizer* tokenizer() const { return m_tokenizer.get(); }  // may be null (ids-only models)
  std::shared_ptr<const Tokenizer> tokenizer_ptr() const { return m_tokenizer; }
  const Backend& backend() const { return *m_backend; }

  // Routing strategy for the following steps (the sequence is kept; strategies see reset()/rewind()).
  void set_strategy(const std::string& spec);   // throws Error on a bad spec
  std::string strategy_spec() const;
  // Takes effect for the next sampled token; the generator restarts from params.seed.
  void set_sampling(const SamplingParams& p);   // throws Error on bad parameters
  const SamplingParams& sampling() const { return m_sampler.params(); }
  void add_sink(ProbeSink* sink);                // not owned
  void remove_sink(ProbeSink* sink);
  // Debug hook (tests): residual stream of every forward call. Not owned; null to remove.
  void set_observer(ForwardObserver* observer) { m_observer = observer; }

  // Replace the sequence with a prompt (nothing computed yet). Throws Error on an empty prompt, ids
  // outside the vocabulary, or (text) when the model has no tokenizer.
  void set_prompt_text(const std::string& text, bool add_special_tokens = true);
  void set_prompt_ids(const std::vector<int32_t>& ids);
  // Run the uncomputed part of the sequence (the whole prompt at first) as one batch and sample the
  // pending token, which is returned. Throws Error when the prompt exceeds the context.
  int32_t prefill();
  // Decode one token: append the pending token, run it, sample the next. Prefills first if needed.
  // Returns the token appended. Throws Error when the context is full, Cancelled when cancelled
  // (the sequence is then as before the call).
  int32_t step();
  // Run up to n steps, stopping after an EOS token when stop_at_eos, at a full context, or on
  // cancel (throws Cancelled). Returns the number of tokens appended.
  int run(int n, bool stop_at_eos = true);
  // Truncate the sequence to `position` tokens (1 <= position <= tokens().size()). Sinks get
  // on_rewind(position) and keep their records of those tokens; the next step recomputes the last
  // kept token (without reporting it again) to sample from it.
  void rewind(int position);
  void cancel();                   // thread-safe; the running prefill/step/run throws Cancelled
  void reset();                    // back to the prompt, nothing computed, sampler reseeded

  const std::vector<int32_t>& tokens() const { return m_tokens; }  // prompt + generated
  int prompt_length() const { return m_prompt_len; }
  int position() const { return m_computed; }  // tokens whose KV is cached
  int32_t pending_token() const { return m_pending; }  // -1 when none
  // Teacher forcing (used by `moescope compare --teacher-forced`): replace the pending token so the
  // next step() appends `id` instead of the sampled one. False (nothing changed) when no token is
  // pending (call after prefill()/step()) or `id` is outside the vocabulary.
  bool force_pending_token(int32_t id) {
    if (m_pending < 0 || id < 0 || id >= m_model->config().vocab_size) return false;
    m_pending = id;
    return true;
  }
  int max_context() const;
  bool is_eos(int32_t token) const;
  bool at_eos() const;  // the last generated token is an EOS token
  int64_t steps_taken() const { return m_step_index; }
  const std::vector<float>& last_logits() const { return m_last_logits; }  // next-token logits

 private:
  // Forward tokens [first, first+count) and sample m_pending; `silent`: no probe callbacks.
  void run_tokens(int first, int count, bool silent = false);
  void begin_operation();  // clears a cancel request left from an earlier operation
  int32_t prefill_impl();
  int32_t step_impl();
  void notify_rewind(int position);

  std::shared_ptr<const Model> m_model;
  std::shared_ptr<const Tokenizer> m_tokenizer;
  std::unique_ptr<Backend> m_backend;
  std::unique_ptr<RoutingStrategy> m_strategy;
  std::vector<ProbeSink*> m_sinks;
  ForwardObserver* m_observer = nullptr;
  Sampler m_sampler;
  SessionOptions m_opts;
  std::vector<int32_t> m_tokens;
  int m_prompt_len = 0;
  int m_computed = 0;
  int32_t m_pending = -1;   // sampled, not yet appended
  bool m_recompute_silently = false;  // set by rewind(): the catch-up forward is not reported
  int64_t m_step_index = 0;
  std::vector<float> m_last_logits;
  std::atomic<bool> m_cancel{false};
};

}  // namespace moescope
