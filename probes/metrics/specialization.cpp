// Expert specialisation matrices and nPMI (see specialization.h, docs/metrics.md).
#include "probes/metrics/specialization.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "probes/metrics/token_class.h"

namespace moescope::metrics {

std::vector<double> npmi(const std::vector<int64_t>& counts, int C, int E) {
  std::vector<double> out(size_t(C) * size_t(E), 0.0);
  std::vector<int64_t> row(size_t(C), 0), col(size_t(E), 0);
  int64_t total = 0;
  for (int c = 0; c < C; ++c)
    for (int e = 0; e < E; ++e) {
      const int64_t n = counts[size_t(c) * E + e];
      row[size_t(c)] += n;
      col[size_t(e)] += n;
      total += n;
    }
  if (total == 0) return out;
  for (int c = 0; c < C; ++c)
    for (int e = 0; e < E; ++e) {
      double& v = out[size_t(c) * E + e];
      const int64_t n = counts[size_t(c) * E + e];
      if (row[size_t(c)] == 0 || col[size_t(e)] == 0) {
        v = 0.0;
      } else if (n == 0) {
        v = -1.0;
      } else if (n == total) {
        v = 1.0;
      } else {
        const double pce = double(n) / double(total);
        const double pc = double(row[size_t(c)]) / double(total);
        const double pe = double(col[size_t(e)]) / double(total);
        v = std::log(pce / (pc * pe)) / -std::log(pce);
      }
    }
  return out;
}

void CategoryMatrix::finish() {
  const int C = int(categories.size()), E = num_experts;
  npmi = metrics::npmi(counts, C, E);
  lift.assign(size_t(C) * size_t(E), 0.0);
  for (int c = 0; c < C; ++c) {
    int64_t r = 0;
    for (int e = 0; e < E; ++e) r += counts[size_t(c) * E + e];
    if (r == 0) continue;
    for (int e = 0; e < E; ++e) lift[size_t(c) * E + e] = double(counts[size_t(c) * E + e]) / double(r) * E;
  }
}

void accumulate(CategoryMatrix& m, const RunData& run, int l, const std::vector<int>& category,
                const SpecializationOptions& opt) {
  const int E = m.num_experts;
  const int k = opt.top1_only ? std::min(1, run.k_max) : run.k_max;
  const int C = int(m.categories.size());
  m.counts.resize(size_t(C) * size_t(E), 0);
  for (int t = 0; t < run.num_tokens() && t < int(category.size()); ++t) {
    const int c = category[size_t(t)];
    if (c < 0 || c >= C) continue;
    if (!opt.include_dropped && run.dropped_at(t, l)) continue;
    const int32_t* ex = run.experts_at(t, l);
    for (int j = 0; j < k; ++j)
      if (ex[j] >= 0 && ex[j] < E) ++m.counts[size_t(c) * E + size_t(ex[j])];
  }
}

CategoryMatrix token_class_matrix(const RunData& run, int l, const SpecializationOptions& opt,
                                  const std::function<bool(int64_t)>& is_special_id) {
  CategoryMatrix m;
  m.num_experts = run.num_experts;
  for (int c = 0; c < kNumTokenClasses; ++c) m.categories.push_back(token_class_name(TokenClass(c)));
  std::vector<int> cat(size_t(run.num_tokens()), -1);
  for (int t = 0; t < run.num_tokens(); ++t) {
    const bool special = is_special_id && is_special_id(run.token_ids[size_t(t)]);
    const std::string& text = size_t(t) < run.token_text.size() ? run.token_text[size_t(t)] : std::string();
    cat[size_t(t)] = int(classify_token(text, special));
  }
  accumulate(m, run, l, cat, opt);
  m.finish();
  return m;
}

CategoryMatrix label_matrix(const std::vector<const RunData*>& runs, int l, const SpecializationOptions& opt,
                            bool prompt_only) {
  CategoryMatrix m;
  for (const RunData* r : runs) m.num_experts = std::max(m.num_experts, r->num_experts);
  for (const RunData* r : runs) {
    const std::string label = r->label.empty() ? "unlabelled" : r->label;
    auto it = std::find(m.categories.begin(), m.categories.end(), label);
    const int c = int(it - m.categories.begin());
    if (it == m.categories.end()) {
      m.categories.push_back(label);
      m.counts.resize(m.categories.size() * size_t(m.num_experts), 0);
    }
    if (l >= r->num_moe_layers()) continue;
    std::vector<int> cat(size_t(r->num_tokens()), c);
    if (prompt_only)
      for (int t = 0; t < r->num_tokens(); ++t)
        if (!r->is_prompt[size_t(t)]) cat[size_t(t)] = -1;
    accumulate(m, *r, l, cat, opt);
  }
  m.finish();
  return m;
}

std::vector<std::vector<TopToken>> top_tokens_per_expert(const RunData& run, int l, int n,
                                                         const SpecializationOptions& opt) {
  const int E = run.num_experts;
  const int k = opt.top1_only ? std::min(1, run.k_max) : run.k_max;
  std::vector<std::map<int64_t, int64_t>> per(size_t(std::max(E, 0)));
  std::map<int64_t, size_t> first_pos;  // text of an id: from its first occurrence
  for (int t = 0; t < run.num_tokens(); ++t) {
    if (!opt.include_dropped && run.dropped_at(t, l)) continue;
    const int64_t id = run.token_ids[size_t(t)];
    first_pos.emplace(id, size_t(t));
    const int32_t* ex = run.experts_at(t, l);
    for (int j = 0; j < k; ++j)
      if (ex[j] >= 0 && ex[j] < E) ++per[size_t(ex[j])][id];
  }
  std::vector<std::vector<TopToken>> out(per.size());
  for (size_t e = 0; e < per.size(); ++e) {
    std::vector<TopToken> v;
    for (const auto& [id, cnt] : per[e]) {
      TopToken tt;
      tt.id = id;
      tt.count = cnt;
      const size_t p = first_pos[id];
      if (p < run.token_text.size()) tt.text = run.token_text[p];
      v.push_back(std::move(tt));
    }
    std::stable_sort(v.begin(), v.end(), [](const TopToken& a, const TopToken& b) { return a.count > b.count; });
    if (int(v.size()) > n) v.resize(size_t(std::max(n, 0)));
    out[e] = std::move(v);
  }
  return out;
}

}  // namespace moescope::metrics
