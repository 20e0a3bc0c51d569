// Entropy and Jensen-Shannon divergence (see distributions.h, docs/metrics.md).
#include "probes/metrics/distributions.h"

#include <cmath>

namespace moescope::metrics {

std::vector<double> normalise(const std::vector<int64_t>& counts) {
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  std::vector<double> p(counts.size(), 0.0);
  if (total > 0)
    for (size_t i = 0; i < counts.size(); ++i) p[i] = double(counts[i]) / double(total);
  return p;
}

double entropy(const std::vector<double>& p) {
  double h = 0.0;
  for (double x : p)
    if (x > 0.0) h -= x * std::log(x);
  return h;
}

double js_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  std::vector<double> m(p.size());
  for (size_t i = 0; i < p.size(); ++i) m[i] = 0.5 * (p[i] + (i < q.size() ? q[i] : 0.0));
  const double js = entropy(m) - 0.5 * (entropy(p) + entropy(q));
  return js < 0.0 ? 0.0 : js;  // rounding can go a hair below zero for identical inputs
}

}  // namespace moescope::metrics
