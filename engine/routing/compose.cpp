// The one RoutingStrategy class: a selection, an optional expert mask applied before it, an optional
// capacity limit applied after it, and the no-shared flag (docs/strategies.md, "Composition").
#include "engine/routing/compose.h"

namespace moescope {

int ExpertMask::count(int moe_layer) const {
  const uint8_t* d = layer(moe_layer);
  if (!d) return 0;
  int n = 0;
  for (uint8_t v : disabled[moe_layer]) n += v ? 1 : 0;
  return n;
}

bool ExpertMask::empty() const {
  for (size_t l = 0; l < disabled.size(); ++l)
    if (count(int(l)) > 0) return false;
  return true;
}

ComposedStrategy::ComposedStrategy(std::shared_ptr<const ModelConfig> config, std::unique_ptr<Selection> selection,
                                   ExpertMask mask, std::string mask_spec, std::unique_ptr<CapacityLimit> capacity,
                                   bool no_shared)
    : m_config(std::move(config)),
      m_selection(std::move(selection)),
      m_mask(std::move(mask)),
      m_mask_spec(std::move(mask_spec)),
      m_capacity(std::move(capacity)),
      m_no_shared(no_shared) {}

void ComposedStrategy::route(const RouterInput& in, RoutingDecision& out) {
  m_selection->select(in, m_mask.layer(in.moe_layer), out);
  if (m_capacity) m_capacity->apply(in, out);
  out.shared_enabled = !m_no_shared;
}

std::string ComposedStrategy::spec() const {
  std::string s = m_selection->spec();
  if (!m_mask_spec.empty()) s.append("+").append(m_mask_spec);
  if (m_capacity) s.append("+").append(m_capacity->spec());
  if (m_no_shared) s.append("+no-shared");
  return s;
}

void ComposedStrategy::rewind(int position) {
  m_selection->rewind(position);
  if (m_capacity) m_capacity->rewind(position);
}

void ComposedStrategy::reset() {
  m_selection->reset();
  if (m_capacity) m_capacity->reset();
}

}  // namespace moescope
