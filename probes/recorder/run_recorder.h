// RunRecorder: the ProbeSink that fills a RunData while a Session runs. Rows are indexed by absolute
// position, so prefill batches (one per MoE layer, T tokens each) and decode steps land in the same
// [N, M, E] / [N, M, K] layout as the trace. Handles rewind (truncate) and a selection width K that grows
// mid-run (earlier rows are re-padded with -1 / 0). on_routing only copies into vectors that grow
// amortised (reserve() sizes them up front), so full recording stays cheap next to a decode step.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/probe/probe_sink.h"
#include "probes/run_data.h"

namespace moescope {

struct ModelConfig;
class LiveSnapshot;

class RunRecorder : public ProbeSink {
 public:
  // Decodes one token id to its text piece (filled in at on_step for the new positions).
  using TokenDecoder = std::function<std::string(int32_t)>;

  RunRecorder() = default;
  explicit RunRecorder(bool record_logits) : m_record_logits(record_logits) {}

  // Start a new run: clears every array and keeps `meta`'s attributes. Shapes (E, K, layers) are
  // taken from `config` when given, otherwise from the first routing batch.
  void begin(RunData meta, const ModelConfig* config = nullptr);
  // Preallocate for `tokens` positions (prompt + max new tokens) and `steps` steps.
  void reserve(int tokens, int steps);
  // Positions < prompt_length are prompt tokens; without it the step's prefill flag decides.
  void set_prompt_length(int n) { m_prompt_length = n; }
  void set_decoder(TokenDecoder decoder) { m_decoder = std::move(decoder); }
  void set_record_logits(bool on) { m_record_logits = on; }
  // Offer a copy of the data to `live` after every step (it coalesces to its own rate).
  void set_live(LiveSnapshot* live) { m_live = live; }

  const RunData& data() const { return m_data; }
  RunData take();  // moves the data out (the recorder is empty afterwards)
  // Offer the current data to the live publisher regardless of its rate limit (end of a run).
  void publish_now();

  // ProbeSink
  void on_routing(const RoutingBatch& batch) override;
  void on_logits(int first_position, int rows, int vocab, const float* logits) override;
  void on_step(const StepInfo& step) override;
  void on_rewind(int position) override;
  bool wants_all_logits() const override { return m_record_logits; }

 private:
  void ensure_tokens(int n);
  void grow_k(int k);
  void grow_layers(int m);

  RunData m_data;
  TokenDecoder m_decoder;
  LiveSnapshot* m_live = nullptr;
  int m_prompt_length = -1;
  int m_decoded = 0;  // positions [0, m_decoded) have token_text filled
  bool m_record_logits = false;
};

}  // namespace moescope
