// DashboardBuffer (see dashboard_buffer.h).
#include "views/dashboard_buffer.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <limits>

namespace moescope::views {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

DashboardBuffer::DashboardBuffer(double window_s, size_t max_samples) : m_window_s(window_s), m_max(max_samples) {}

void DashboardBuffer::clear() {
  m_samples.clear();
  m_seen_steps = m_seen_tokens = 0;
}

void DashboardBuffer::trim() {
  while (m_samples.size() > m_max) m_samples.pop_front();
  if (m_samples.empty()) return;
  const double newest = m_samples.back().t_s;
  while (!m_samples.empty() && m_samples.front().t_s < newest - m_window_s) m_samples.pop_front();
}

void DashboardBuffer::push(DashboardSample s) {
  m_samples.push_back(std::move(s));
  trim();
}

DashboardSample DashboardBuffer::sample_for(const RunData& run, int s0, int s1, int t0, int t1) const {
  DashboardSample s;
  int64_t ns_all = 0, ns_pre = 0, ns_dec = 0, tok_all = 0, tok_pre = 0, tok_dec = 0;
  for (int i = s0; i < s1; ++i) {
    const int64_t ns = run.step_ns[size_t(i)];
    const int64_t tk = run.step_tokens[size_t(i)];
    ns_all += ns;
    tok_all += tk;
    const bool pre = i < int(run.step_prefill.size()) && run.step_prefill[size_t(i)] != 0;
    (pre ? ns_pre : ns_dec) += ns;
    (pre ? tok_pre : tok_dec) += tk;
  }
  s.tokens_per_s = ns_all > 0 ? double(tok_all) / (double(ns_all) * 1e-9) : kNaN;
  s.prefill_ms_per_token = tok_pre > 0 ? double(ns_pre) * 1e-6 / double(tok_pre) : kNaN;
  s.decode_ms_per_token = tok_dec > 0 ? double(ns_dec) * 1e-6 / double(tok_dec) : kNaN;
  const int E = run.num_experts, M = run.num_moe_layers(), K = run.k_max;
  s.load.assign(size_t(std::max(E, 0)), 0.0);
  double total = 0;
  for (int t = t0; t < t1; ++t)
    for (int l = 0; l < M; ++l) {
      if (run.dropped_at(t, l)) continue;
      const int32_t* ex = run.experts_at(t, l);
      for (int j = 0; j < K; ++j)
        if (ex[j] >= 0 && ex[j] < E) s.load[size_t(ex[j])] += 1, total += 1;
    }
  if (total > 0)
    for (double& v : s.load) v /= total;
  s.tokens = t1;
  return s;
}

bool DashboardBuffer::ingest(const RunData& run, double now_s, double rss_mb) {
  const int steps = std::min(run.num_steps(), int(run.step_tokens.size()));
  const int tokens = run.num_tokens();
  if (steps < m_seen_steps || tokens < m_seen_tokens || run.num_experts != m_experts) {
    // A new run (or a reset / rewind): everything it holds is new work.
    m_experts = run.num_experts;
    m_seen_steps = 0;
    m_seen_tokens = 0;
  }
  if (steps == m_seen_steps) return false;
  DashboardSample s = sample_for(run, m_seen_steps, steps, m_seen_tokens, tokens);
  s.t_s = now_s;
  s.rss_mb = rss_mb;
  m_seen_steps = steps;
  m_seen_tokens = tokens;
  push(std::move(s));
  return true;
}

void DashboardBuffer::replay(const RunData& run) {
  clear();
  m_experts = run.num_experts;
  const int steps = std::min(run.num_steps(), int(run.step_tokens.size()));
  double t = 0;
  int token = 0;
  for (int i = 0; i < steps; ++i) {
    const int first = i < int(run.step_first_position.size()) ? run.step_first_position[size_t(i)] : token;
    const int last = std::min(run.num_tokens(), first + run.step_tokens[size_t(i)]);
    DashboardSample s = sample_for(run, i, i + 1, std::max(0, first), last);
    t += double(run.step_ns[size_t(i)]) * 1e-9;
    s.t_s = t;
    s.rss_mb = kNaN;
    token = last;
    push(std::move(s));
  }
  m_seen_steps = steps;
  m_seen_tokens = run.num_tokens();
}

double current_rss_mb() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return kNaN;
  long size = 0, resident = 0;
  const int n = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  if (n != 2) return kNaN;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

}  // namespace moescope::views
