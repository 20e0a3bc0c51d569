// Small pure functions over discrete distributions shared by the metrics (natural logs throughout).
#pragma once
#include <cstdint>
#include <vector>

namespace moescope::metrics {

// counts / sum(counts); all zeros when the sum is 0.
std::vector<double> normalise(const std::vector<int64_t>& counts);
// Shannon entropy -sum p ln p in nats (0 ln 0 = 0). `p` must sum to 1 (or be all zeros -> 0).
double entropy(const std::vector<double>& p);
// Jensen-Shannon divergence in nats, in [0, ln 2]: JS = H((p+q)/2) - (H(p)+H(q))/2.
double js_divergence(const std::vector<double>& p, const std::vector<double>& q);

}  // namespace moescope::metrics
