// The stepping Session: one model + tokenizer + backend + routing strategy, one sequence.
// Used by the CLI and (from a worker thread) by the GUI. Not thread-safe: one thread drives it;
// cancel() may be called from any thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "engine/probe/probe_sink.h"

namespace moescope {

class Tokenizer;        // engine/tokenizer/tokenizer.h
class RoutingStrategy;  // engine/routing/strategy.h
class Backend;          // engine/cpu/backend.h

struct SamplingParams {
  bool greedy = true;
  float temperature = 1.0f;
  int top_k = 0;          // 0 = off
  float top_p = 1.0f;     // 1 = off
  uint64_t seed = 0;
};

struct SessionOptions {
  std::string backend = "cpu";  // "cpu" | "cuda"
  int threads = 0;              // 0 = all cores
  int max_context = 0;          // 0 = config max_position_embeddings (capped to fit memory)
  std::string strategy = "native";
};

class Session {
 public:
  // Load a checkpoint directory (config.json, safetensors, tokenizer.json).
  static std::unique_ptr<Session> open(const std::string& model_dir, const SessionOptions& opts = {},
                                       LoadProgress* progress = nullptr);
  Session(std::shared_ptr<const Model> model, std::shared_ptr<const Tokenizer> tokenizer,
          const SessionOptions& opts);
  ~Session();

  const Model& model() const { return *m_model; }
  std::shared_ptr<const Model> model_ptr() const { return m_model; }
  const Tokenizer* tokenizer() const { return m_tokenizer.get(); }  // may be null (ids-only models)

  void set_strategy(const std::string& spec);   // throws Error on a bad spec
  std::string strategy_spec() const;
  void set_sampling(const SamplingParams& p);
  const SamplingParams& sampling() const { return m_sampling; }
  void add_sink(ProbeSink* sink);                // not owned
  void remove_sink(ProbeSink* sink);

  // Replace the sequence with a prompt (nothing computed yet).
  void set_prompt_text(const std::string& text, bool add_special_tokens = true);
  void set_prompt_ids(const std::vector<int32_t>& ids);
  // Run the prompt as one batch; returns the first sampled token (not yet appended).
  void prefill();
  // Decode one token: append the pending sampled token, run it, sample the next. Prefills first if needed.
  // Returns the token appended.
  int32_t step();
  // Run up to n steps or until EOS / cancel; returns the number of steps taken.
  int run(int n, bool stop_at_eos = true);
  // Truncate the sequence to `position` tokens (>= 1); later steps recompute from there.
  void rewind(int position);
  void cancel();                   // thread-safe; the running step() / run() throws Cancelled
  void reset();                    // back to the prompt, nothing computed

  const std::vector<int32_t>& tokens() const { return m_tokens; }  // prompt + generated
  int prompt_length() const { return m_prompt_len; }
  int position() const { return m_computed; }  // tokens whose KV is cached
  int max_context() const;
  bool at_eos() const;
  const std::vector<float>& last_logits() const { return m_last_logits; }  // next-token logits

 private:
  void run_tokens(int first, int count);  // forward tokens [first, first+count) through the backend
  int32_t sample(const float* logits);

  std::shared_ptr<const Model> m_model;
  std::shared_ptr<const Tokenizer> m_tokenizer;
  std::unique_ptr<Backend> m_backend;
  std::unique_ptr<RoutingStrategy> m_strategy;
  std::vector<ProbeSink*> m_sinks;
  SamplingParams m_sampling;
  SessionOptions m_opts;
  std::vector<int32_t> m_tokens;
  int m_prompt_len = 0;
  int m_computed = 0;
  int32_t m_pending = -1;   // sampled, not yet appended
  int64_t m_step_index = 0;
  std::vector<float> m_last_logits;
  std::atomic<bool> m_cancel{false};
  uint64_t m_rng_state = 0;
};

}  // namespace moescope
