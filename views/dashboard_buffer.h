// DashboardBuffer: the live throughput dashboard's data, Qt-free. Each ingest() of a growing RunData
// turns the engine steps and tokens not seen before into one sample (tokens/s, ms per token for
// prefill and decode, resident memory, expert load share of the new tokens); samples older than the
// window (default 5 minutes) are dropped, and at most `max_samples` are kept (a ring buffer), so a
// long session never grows memory. replay() turns a saved trace into one sample per engine step.
#pragma once
#include <cstdint>
#include <deque>
#include <vector>

#include "probes/run_data.h"

namespace moescope::views {

struct DashboardSample {
  double t_s = 0;                 // seconds since the buffer's start (live) or engine time (replay)
  double tokens_per_s = 0;        // tokens processed by the new steps / their engine time; NaN: no step
  double prefill_ms_per_token = 0;  // NaN when the new steps hold no prefill
  double decode_ms_per_token = 0;   // NaN when the new steps hold no decode
  double rss_mb = 0;              // resident memory of the process (NaN when unknown)
  std::vector<double> load;       // [E] share of the new tokens' selections (all MoE layers, all k)
  int tokens = 0;                 // sequence length at the sample
};

class DashboardBuffer {
 public:
  explicit DashboardBuffer(double window_s = 300.0, size_t max_samples = 25 * 600);

  void setWindow(double seconds) { m_window_s = seconds; trim(); }
  double window() const { return m_window_s; }
  size_t maxSamples() const { return m_max; }

  // Consumes what `run` holds beyond the last ingest (a shorter run, i.e. a reset or a rewind, or one
  // with another expert count counts as new from its start). Returns whether a sample was added.
  bool ingest(const RunData& run, double now_s, double rss_mb);
  // One sample per step of a finished run, t = cumulative engine time. Clears the buffer first.
  void replay(const RunData& run);
  void push(DashboardSample s);
  void clear();

  const std::deque<DashboardSample>& samples() const { return m_samples; }
  int numExperts() const { return m_experts; }

 private:
  void trim();
  DashboardSample sample_for(const RunData& run, int first_step, int last_step, int first_token, int last_token) const;

  double m_window_s;
  size_t m_max;
  std::deque<DashboardSample> m_samples;
  int m_seen_steps = 0, m_seen_tokens = 0, m_experts = 0;
};

// Resident set size of this process in MiB (/proc/self/statm), NaN where unavailable.
double current_rss_mb();

}  // namespace moescope::views
