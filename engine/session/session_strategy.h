// Internal to the session: builds the routing strategy for a spec. Delegates to make_strategy
// (engine/routing) for everything but the plain "native" spec, which it serves itself.
#pragma once
#include <memory>
#include <string>

#include "engine/routing/strategy.h"

namespace moescope {

std::unique_ptr<RoutingStrategy> make_session_strategy(const std::string& spec, const ModelConfig& config);

}  // namespace moescope
