// The engine's probe interface. The engine calls a sink at each MoE layer with the router state of
// the tokens it just processed, and once at the end of each step. Sinks live in probes/ (recorders,
// trace writer, live snapshots); a null sink pointer costs nothing.
#pragma once
#include <cstdint>

#include "engine/routing/routing_types.h"

namespace moescope {

// Router state of one MoE layer for a batch of T tokens (prefill: the prompt; decode: one token).
struct RoutingBatch {
  int layer = 0;                        // model layer index
  int moe_layer = 0;                    // index among MoE layers
  int tokens = 0;                       // T
  int num_experts = 0;                  // E
  const int32_t* positions = nullptr;   // [T]
  const int32_t* token_ids = nullptr;   // [T]
  const float* logits = nullptr;        // [T, E] raw router logits
  const RoutingDecision* decision = nullptr;  // experts/weights [T, k_max], dropped [T]
};

struct StepInfo {
  int64_t step_index = 0;       // 0-based count of engine steps in this sequence
  int first_position = 0;       // position of the first token processed by the step
  int num_tokens = 0;           // tokens processed (prompt length for prefill, 1 for decode)
  bool prefill = false;
  int64_t wall_ns = 0;          // wall time of the step
  int32_t next_token = -1;      // token chosen after this step (-1 if none was sampled)
};

class ProbeSink {
 public:
  virtual ~ProbeSink() = default;
  virtual void on_routing(const RoutingBatch& batch) {}
  // Next-token logits for positions [first_position, first_position+rows) (only when requested).
  virtual void on_logits(int first_position, int rows, int vocab, const float* logits) {}
  virtual void on_step(const StepInfo& step) {}
  // The session truncated its sequence to `position` tokens.
  virtual void on_rewind(int position) {}
  // Whether the engine should compute and deliver next-token logits for every processed position.
  virtual bool wants_all_logits() const { return false; }
};

}  // namespace moescope
