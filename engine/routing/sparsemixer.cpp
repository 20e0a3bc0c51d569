// sparsemixer (Phi-3.5-MoE), eval mode; see sparsemixer.h. Mirrors transformers' modular_phimoe.py:
//   threshold, idx = scores.max(-1); factor = scores.abs().clamp(min=threshold)
//   mask = ((threshold - scores) / factor) > 2 * jitter_eps; gates = softmax(scores.masked_fill(mask, -inf))
//   weight = gates[idx]; then scores[idx] = -inf and the same again.
#include "engine/routing/sparsemixer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace moescope {

int sparsemixer_route(const float* logits, int E, int k, float jitter, const uint8_t* disabled, int32_t* experts,
                      float* weights) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  std::fill(experts, experts + k, -1);
  std::fill(weights, weights + k, 0.0f);
  thread_local std::vector<float> remaining;  // the logits with chosen and disabled experts at -inf
  remaining.assign(logits, logits + E);
  if (disabled)
    for (int e = 0; e < E; ++e)
      if (disabled[e]) remaining[size_t(e)] = kNegInf;
  const float limit = 2.0f * jitter;  // torch compares the fp32 ratio with the Python float 2 * eps as fp32
  int chosen = 0;
  for (; chosen < k; ++chosen) {
    int best = -1;
    for (int e = 0; e < E; ++e)
      if (!std::isnan(remaining[size_t(e)]) && remaining[size_t(e)] != kNegInf &&
          (best < 0 || remaining[size_t(e)] > remaining[size_t(best)]))
        best = e;
    if (best < 0) break;
    const float m = remaining[size_t(best)];
    float sum = 0.0f;
    for (int e = 0; e < E; ++e) {
      const float s = logits[e];
      const float factor = std::max(std::fabs(s), m);
      if ((m - s) / factor > limit || remaining[size_t(e)] == kNegInf) continue;
      sum += std::exp(remaining[size_t(e)] - m);
    }
    experts[chosen] = best;
    weights[chosen] = 1.0f / sum;  // exp(m - m) / sum
    remaining[size_t(best)] = kNegInf;
  }
  return chosen;
}

}  // namespace moescope
