// Routing strategies: turn router logits into decisions. Parsed from spec strings such as "native",
// "topk:1+mask:3.5", "capacity:1.25:end"; deterministic given the spec and its seed.
#pragma once
#include <memory>
#include <string>

#include "engine/routing/routing_types.h"

namespace moescope {

class RoutingStrategy {
 public:
  virtual ~RoutingStrategy() = default;
  // Decide for in.tokens tokens; `out` is reset by the strategy.
  virtual void route(const RouterInput& in, RoutingDecision& out) = 0;
  // Canonical spec string ("native", "topk:2", ...).
  virtual std::string spec() const = 0;
  // The session rewound to `position`: forget state about later positions (capacity windows).
  virtual void rewind(int position) {}
  // Start of a new sequence.
  virtual void reset() {}
  // Widest RoutingDecision::k_max it produces, the same at every step (0 = not known). Recorders can
  // size the trace's K from it: topp and expert-choice rows are E wide, topk:K rows K wide.
  virtual int max_experts_per_token() const { return 0; }
};

// Parse a spec (composition with '+'); validates against the model (k range, expert ids, layers).
// Bad specs throw moescope::Error with a message naming the spec and the problem. The grammar and
// the meaning of each strategy are in docs/strategies.md; the result keeps its own copy of `config`.
std::unique_ptr<RoutingStrategy> make_strategy(const std::string& spec, const ModelConfig& config);

// The checkpoint's own rule, exactly as Hugging Face computes it (used by "native").
void route_native(const RouterInput& in, RoutingDecision& out);

}  // namespace moescope
