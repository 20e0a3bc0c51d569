// Hand-made RunData for metric and trace tests: routing given as per-token expert lists, so expected
// values can be worked out by hand in each test.
#pragma once
#include <string>
#include <vector>

#include "probes/run_data.h"

namespace moescope::test {

// experts[t][l] = the expert list of token t at MoE layer l (router rank order; shorter lists padded).
inline RunData make_run(int num_experts, int k, const std::vector<std::vector<std::vector<int>>>& experts,
                        const std::vector<int64_t>& ids = {}, const std::vector<std::string>& text = {}) {
  RunData r;
  r.num_experts = num_experts;
  r.k_max = k;
  const int n = int(experts.size());
  const int m = n ? int(experts[0].size()) : 0;
  for (int l = 0; l < m; ++l) r.moe_layers.push_back(l);
  for (int t = 0; t < n; ++t) {
    r.token_ids.push_back(ids.empty() ? t : ids[size_t(t)]);
    r.token_text.push_back(text.empty() ? "t" + std::to_string(t) : text[size_t(t)]);
    r.is_prompt.push_back(1);
    for (int l = 0; l < m; ++l) {
      const auto& ex = experts[size_t(t)][size_t(l)];
      for (int e = 0; e < num_experts; ++e) r.router_logits.push_back(float(t * 100 + l * 10 + e));
      for (int j = 0; j < k; ++j) {
        r.experts.push_back(j < int(ex.size()) ? ex[size_t(j)] : -1);
        r.weights.push_back(j < int(ex.size()) ? 1.0f / float(ex.size()) : 0.0f);
      }
      r.dropped.push_back(0);
    }
  }
  return r;
}

}  // namespace moescope::test
