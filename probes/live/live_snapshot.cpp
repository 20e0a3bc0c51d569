// LiveSnapshot: time-coalesced copies of a RunData for the GUI (see live_snapshot.h).
#include "probes/live/live_snapshot.h"

namespace moescope {

bool LiveSnapshot::offer_at(const RunData& data, Clock::time_point now, bool force) {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!force && m_any && now - m_last < m_interval) return false;
    m_last = now;
    m_any = true;
  }
  // Copy outside the lock so a GUI thread calling latest() never waits for the copy.
  auto snap = std::make_shared<const RunData>(data);
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_latest = std::move(snap);
  }
  m_generation.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

RunSnapshot LiveSnapshot::latest() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_latest;
}

void LiveSnapshot::clear() {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_latest.reset();
  m_any = false;
}

}  // namespace moescope
