// ComposedStrategy: what make_strategy() returns for every spec (see selection.h for the parts).
#pragma once
#include <memory>
#include <string>

#include "engine/model/model_config.h"
#include "engine/routing/selection.h"
#include "engine/routing/strategy.h"

namespace moescope {

class ComposedStrategy final : public RoutingStrategy {
 public:
  // `selection` and `capacity` refer to *config, which this object keeps alive.
  ComposedStrategy(std::shared_ptr<const ModelConfig> config, std::unique_ptr<Selection> selection, ExpertMask mask,
                   std::string mask_spec, std::unique_ptr<CapacityLimit> capacity, bool no_shared);
  void route(const RouterInput& in, RoutingDecision& out) override;
  std::string spec() const override;
  void rewind(int position) override;
  void reset() override;
  int max_experts_per_token() const override { return m_selection->k_max(); }

 private:
  std::shared_ptr<const ModelConfig> m_config;  // declared first: outlives the parts that refer to it
  std::unique_ptr<Selection> m_selection;
  ExpertMask m_mask;
  std::string m_mask_spec;
  std::unique_ptr<CapacityLimit> m_capacity;
  bool m_no_shared;
};

}  // namespace moescope
