// LiveSnapshot: hands a run in progress to the GUI as immutable snapshots (std::shared_ptr<const RunData>).
// The engine thread offers the growing RunData after each step; a copy is published at most once per
// interval (default 40 ms = 25 Hz), so a fast decode does not copy per token. The GUI pulls latest() on
// its own timer (PlotJuggler style) and compares generation() to skip unchanged frames. Qt-free.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

#include "probes/run_data.h"

namespace moescope {

class LiveSnapshot {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LiveSnapshot(std::chrono::milliseconds min_interval = std::chrono::milliseconds(40))
      : m_interval(min_interval) {}

  // Publish a copy of `data` if the interval since the last publication has passed (or `force`).
  // Returns whether it published. Called from the engine thread.
  bool offer(const RunData& data, bool force = false) { return offer_at(data, Clock::now(), force); }
  // Same with an explicit clock reading (tests).
  bool offer_at(const RunData& data, Clock::time_point now, bool force = false);

  // Latest published snapshot (null before the first). Any thread.
  RunSnapshot latest() const;
  // Increments with every publication (0 = none yet). Any thread.
  uint64_t generation() const { return m_generation.load(std::memory_order_acquire); }
  void clear();

 private:
  std::chrono::milliseconds m_interval;
  mutable std::mutex m_mutex;
  RunSnapshot m_latest;
  Clock::time_point m_last{};
  bool m_any = false;
  std::atomic<uint64_t> m_generation{0};
};

}  // namespace moescope
