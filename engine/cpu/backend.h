// The interface between the Session and a compute backend (CPU reference, CUDA). A backend owns the
// KV cache and scratch memory of one sequence and runs tokens through the model; at each MoE layer it
// asks the routing strategy for decisions and reports them to the probe sinks.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/model/model.h"
#include "engine/probe/probe_sink.h"

namespace moescope {

class RoutingStrategy;

// Debug hook (tests, tools): the residual stream as Hugging Face's output_hidden_states reports it.
// index 0 = token embeddings; 1 <= index < L: residual after decoder layer index-1; index L: the
// final-norm output. `data` is [rows, hidden] for positions [first_position, first_position+rows).
class ForwardObserver {
 public:
  virtual ~ForwardObserver() = default;
  virtual void on_hidden(int index, int first_position, int rows, int hidden, const float* data) {}
};

struct ForwardArgs {
  const int32_t* tokens = nullptr;  // [count]
  int count = 0;
  int first_position = 0;           // the cache keeps positions [0, first_position); later ones are overwritten
  bool prefill = false;             // passed to strategies (RouterInput::prefill)
  bool all_logits = false;          // logits for every row, not only the last
  RoutingStrategy* strategy = nullptr;  // null: the checkpoint's own rule (route_native)
  ProbeSink* const* sinks = nullptr;    // on_routing receivers
  int num_sinks = 0;
  ForwardObserver* observer = nullptr;
  const std::atomic<bool>* cancel = nullptr;  // checked between layers; set -> throws Cancelled
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Positions the KV cache holds.
  virtual int max_context() const = 0;
  // Runs args.tokens at positions [first_position, first_position + count) and returns next-token
  // logits: [count, vocab] rows with all_logits, else one row for the last token. The pointer stays
  // valid until the next forward(). Throws Error on bad input, Cancelled when cancelled.
  virtual const float* forward(const ForwardArgs& args) = 0;
};

// backend: "cpu" (or "cuda" when built with it). threads <= 0: all cores. max_context <= 0: the model's
// max_position_embeddings, capped so the KV cache stays within a memory budget.
std::unique_ptr<Backend> make_backend(const std::string& backend, std::shared_ptr<const Model> model, int threads,
                                      int max_context);
std::unique_ptr<Backend> make_cpu_backend(std::shared_ptr<const Model> model, int threads, int max_context);

}  // namespace moescope
