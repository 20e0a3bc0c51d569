// compare_runs(): the comparison metrics of docs/strategies.md, computed from recorded RunData.
#include "probes/comparison/comparison.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "engine/util/error.h"
#include "probes/metrics/distributions.h"

namespace moescope {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Experts a token actually used at a layer (>= 0 entries of its row).
std::set<int32_t> used_experts(const RunData& r, int t, int l) {
  std::set<int32_t> s;
  const int32_t* row = r.experts_at(t, l);
  for (int j = 0; j < r.k_max; ++j)
    if (row[j] >= 0) s.insert(row[j]);
  return s;
}

int32_t top1_expert(const RunData& r, int t, int l) {
  const int32_t* row = r.experts_at(t, l);
  for (int j = 0; j < r.k_max; ++j)
    if (row[j] >= 0) return row[j];
  return -1;
}

// log-softmax of one logits row, in double.
void log_softmax(const float* x, int n, std::vector<double>& out) {
  out.resize(n);
  double mx = -std::numeric_limits<double>::infinity();
  for (int i = 0; i < n; ++i) mx = std::max(mx, double(x[i]));
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp(double(x[i]) - mx);
  const double lse = mx + std::log(s);
  for (int i = 0; i < n; ++i) out[i] = double(x[i]) - lse;
}

int argmax(const float* x, int n) { return int(std::max_element(x, x + n) - x); }

bool has_logits(const RunData& r) {
  return r.vocab_size > 0 && r.next_logits.size() >= size_t(r.num_tokens()) * r.vocab_size;
}

int prompt_length_of(const RunData& r) {
  int p = 0;
  for (uint8_t v : r.is_prompt) p += v ? 1 : 0;
  return p;
}

// Share of expert assignments per layer over positions [0, n).
std::vector<double> load_of(const RunData& r, int n) {
  const int M = r.num_moe_layers(), E = r.num_experts;
  std::vector<double> load(size_t(M) * E, 0.0);
  for (int t = 0; t < n; ++t)
    for (int l = 0; l < M; ++l) {
      const int32_t* row = r.experts_at(t, l);
      for (int j = 0; j < r.k_max; ++j)
        if (row[j] >= 0 && row[j] < E) load[size_t(l) * E + row[j]] += 1.0;
    }
  for (int l = 0; l < M; ++l) {
    double s = 0;
    for (int e = 0; e < E; ++e) s += load[size_t(l) * E + e];
    if (s > 0)
      for (int e = 0; e < E; ++e) load[size_t(l) * E + e] /= s;
  }
  return load;
}

std::vector<double> dropped_of(const RunData& r, int n) {
  const int M = r.num_moe_layers();
  std::vector<double> d(M, 0.0);
  if (n == 0) return d;
  for (int t = 0; t < n; ++t)
    for (int l = 0; l < M; ++l) d[l] += r.dropped_at(t, l) ? 1.0 : 0.0;
  for (double& v : d) v /= n;
  return d;
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return 0.0;
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

}  // namespace

void scored_range(int tokens, int prompt_length, int& first, int& last) {
  last = tokens;
  first = tokens > prompt_length ? std::max(1, prompt_length) : 1;
}

double load_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double sp = 0, sq = 0;
  for (double v : p) sp += v;
  for (double v : q) sq += v;
  if (sp <= 0 && sq <= 0) return 0.0;
  if (sp <= 0 || sq <= 0) return std::log(2.0);
  std::vector<double> a(p.size()), b(q.size());
  for (size_t i = 0; i < p.size(); ++i) a[i] = p[i] / sp;
  for (size_t i = 0; i < q.size(); ++i) b[i] = q[i] / sq;
  return std::min(metrics::js_divergence(a, b), std::log(2.0));
}

ComparisonResult compare_runs(const std::vector<const RunData*>& runs, bool teacher_forced) {
  ComparisonResult res;
  res.teacher_forced = teacher_forced;
  if (runs.empty()) return res;
  const RunData& first = *runs[0];
  res.num_moe_layers = first.num_moe_layers();
  res.num_experts = first.num_experts;
  res.moe_layers = first.moe_layers;
  const int M = res.num_moe_layers, E = res.num_experts;
  for (const RunData* r : runs)
    if (r->num_moe_layers() != M || r->num_experts != E)
      throw Error("compare: run '" + r->name + "' has " + std::to_string(r->num_moe_layers()) + " MoE layers x " +
                  std::to_string(r->num_experts) + " experts, run '" + first.name + "' has " + std::to_string(M) +
                  " x " + std::to_string(E));

  std::vector<double> lp;
  for (const RunData* r : runs) {
    RunComparisonSummary s;
    s.name = r->name;
    s.strategy = r->strategy;
    s.tokens = r->num_tokens();
    s.prompt_length = prompt_length_of(*r);
    s.layer_dropped = dropped_of(*r, s.tokens);
    s.dropped_fraction = mean(s.layer_dropped);
    s.load = load_of(*r, s.tokens);
    s.perplexity = kNaN;
    if (has_logits(*r)) {
      int a = 0, b = 0;
      scored_range(s.tokens, s.prompt_length, a, b);
      double nll = 0;
      for (int i = a; i < b; ++i) {
        const int32_t id = r->token_ids[size_t(i)];
        if (id < 0 || id >= r->vocab_size)  // a trace from elsewhere: never index past the logits row
          throw Error("compare: run '" + r->name + "': token id " + std::to_string(id) + " at position " +
                      std::to_string(i) + " is outside its vocabulary of " + std::to_string(r->vocab_size));
        log_softmax(r->next_logits.data() + size_t(i - 1) * r->vocab_size, r->vocab_size, lp);
        nll -= lp[size_t(id)];
      }
      s.scored_tokens = std::max(0, b - a);
      if (s.scored_tokens > 0) s.perplexity = std::exp(nll / s.scored_tokens);
    }
    res.runs.push_back(std::move(s));
  }

  std::vector<double> la, lb;
  for (size_t i = 0; i < runs.size(); ++i)
    for (size_t j = i + 1; j < runs.size(); ++j) {
      const RunData& A = *runs[i];
      const RunData& B = *runs[j];
      PairComparison p;
      p.a = int(i);
      p.b = int(j);
      const int n = std::min(A.num_tokens(), B.num_tokens());
      p.positions = n;
      for (int t = 0; t < n && p.first_divergence < 0; ++t)
        if (A.token_ids[t] != B.token_ids[t]) p.first_divergence = t;
      if (p.first_divergence < 0 && A.num_tokens() != B.num_tokens()) p.first_divergence = n;

      p.jaccard.resize(size_t(n) * M);
      p.top1_expert_agree.resize(size_t(n) * M);
      p.layer_jaccard.assign(M, 0.0);
      p.layer_top1_expert_agreement.assign(M, 0.0);
      for (int t = 0; t < n; ++t)
        for (int l = 0; l < M; ++l) {
          const auto sa = used_experts(A, t, l), sb = used_experts(B, t, l);
          size_t inter = 0;
          for (int32_t e : sa) inter += sb.count(e);
          const size_t uni = sa.size() + sb.size() - inter;
          const double jac = uni == 0 ? 1.0 : double(inter) / double(uni);
          const uint8_t agree = top1_expert(A, t, l) == top1_expert(B, t, l) ? 1 : 0;
          p.jaccard[size_t(t) * M + l] = float(jac);
          p.top1_expert_agree[size_t(t) * M + l] = agree;
          p.layer_jaccard[l] += jac;
          p.layer_top1_expert_agreement[l] += agree;
        }
      for (int l = 0; l < M; ++l) {
        p.layer_jaccard[l] = n ? p.layer_jaccard[l] / n : 1.0;
        p.layer_top1_expert_agreement[l] = n ? p.layer_top1_expert_agreement[l] / n : 1.0;
      }
      const std::vector<double> load_a = load_of(A, n), load_b = load_of(B, n);
      p.layer_load_js.resize(M);
      for (int l = 0; l < M; ++l) {
        la.assign(load_a.begin() + size_t(l) * E, load_a.begin() + size_t(l + 1) * E);
        lb.assign(load_b.begin() + size_t(l) * E, load_b.begin() + size_t(l + 1) * E);
        p.layer_load_js[l] = load_divergence(la, lb);
      }
      p.layer_dropped_a = dropped_of(A, n);
      p.layer_dropped_b = dropped_of(B, n);
      p.jaccard_mean = mean(p.layer_jaccard);
      p.top1_expert_agreement = mean(p.layer_top1_expert_agreement);
      p.load_js_mean = mean(p.layer_load_js);
      p.dropped_a = mean(p.layer_dropped_a);
      p.dropped_b = mean(p.layer_dropped_b);

      p.has_logits = has_logits(A) && has_logits(B) && A.vocab_size == B.vocab_size;
      if (p.has_logits) {
        const int V = A.vocab_size;
        std::vector<double> lpa, lpb;
        p.kl.resize(n);
        p.top1_token_agree.resize(n);
        double agree = 0;
        for (int t = 0; t < n; ++t) {
          const float* xa = A.next_logits.data() + size_t(t) * V;
          const float* xb = B.next_logits.data() + size_t(t) * V;
          log_softmax(xa, V, lpa);
          log_softmax(xb, V, lpb);
          double kl = 0;
          for (int v = 0; v < V; ++v) kl += std::exp(lpa[v]) * (lpa[v] - lpb[v]);
          p.kl[t] = std::max(0.0, kl);
          p.top1_token_agree[t] = argmax(xa, V) == argmax(xb, V) ? 1 : 0;
          agree += p.top1_token_agree[t];
          p.kl_max = std::max(p.kl_max, p.kl[t]);
        }
        p.kl_mean = mean(p.kl);
        p.top1_token_agreement = n ? agree / n : 1.0;
      }
      res.pairs.push_back(std::move(p));
    }
  return res;
}

}  // namespace moescope
