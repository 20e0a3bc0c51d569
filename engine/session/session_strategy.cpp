// make_session_strategy: "native" -> route_native; other specs -> make_strategy.
#include "engine/session/session_strategy.h"

#include "engine/util/error.h"

namespace moescope {

namespace {
class NativeStrategy final : public RoutingStrategy {
 public:
  void route(const RouterInput& in, RoutingDecision& out) override { route_native(in, out); }
  std::string spec() const override { return "native"; }
};
}  // namespace

std::unique_ptr<RoutingStrategy> make_session_strategy(const std::string& spec, const ModelConfig& config) {
  if (spec.empty() || spec == "native") return std::make_unique<NativeStrategy>();
  throw Error("routing strategy '" + spec + "': only 'native' is available in this build");
}

}  // namespace moescope
