// Feed-forward parts of the CPU backend: the SwiGLU MLP, and the MoE block (router -> strategy ->
// probes -> routed experts in expert order, as transformers accumulates them -> shared expert).
#include <algorithm>
#include <cstring>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/kernels.h"
#include "engine/routing/strategy.h"
#include "engine/util/error.h"

namespace moescope {

namespace {
// dst += wgt * src over one hidden row: how both routed-expert paths add an expert's output to a token,
// one function so that they stay the same to the bit.
void add_weighted_row(float* dst, const float* src, float wgt, int H) {
  for (int h = 0; h < H; ++h) dst[h] += src[h] * wgt;
}
}  // namespace

void CpuBackend::ffn(const FfnWeights& w, const float* x, int rows, float* out, float* gate, float* up) {
  const int H = m_cfg.hidden_size;
  const int I = int(w.gate.rows());
  const cpu::LinearJob jobs[2] = {{&w.gate, &w.gate_bias, gate, I}, {&w.up, &w.up_bias, up, I}};
  cpu::linear_multi(m_pool, x, H, rows, jobs, 2);
  const size_t n = size_t(rows) * I;
  float* g = gate;
  const float* u = up;
  if (m_cfg.swiglu_limit > 0) {  // GPT-OSS clamped SwiGLU
    constexpr float alpha = 1.702f;
    const float lim = m_cfg.swiglu_limit;
    for (size_t i = 0; i < n; ++i) {
      const float gi = std::min(g[i], lim);
      const float ui = std::clamp(u[i], -lim, lim);
      g[i] = (ui + 1.0f) * (gi * cpu::sigmoid(gi * alpha));
    }
  } else {
    for (size_t i = 0; i < n; ++i) g[i] = cpu::silu(g[i]) * u[i];
  }
  cpu::linear(m_pool, g, I, rows, w.down, &w.down_bias, out, H);
}

void CpuBackend::moe_block(int layer, int T, const ForwardArgs& args) {
  const ModelConfig& c = m_cfg;
  const MoeWeights& mw = m_model->weights().layers[size_t(layer)].moe;
  const int H = c.hidden_size, E = c.num_experts;

  cpu::linear(m_pool, m_xn.data(), H, T, mw.router, &mw.router_bias, m_router.data(), E);

  RouterInput in;
  in.config = &c;
  in.layer = layer;
  in.moe_layer = 0;
  for (int l = 0; l < layer; ++l)
    if (m_model->weights().layers[size_t(l)].is_moe) ++in.moe_layer;
  in.tokens = T;
  in.num_experts = E;
  in.logits = m_router.data();
  in.positions = m_positions.data();
  in.token_ids = m_token_ids.data();
  in.correction_bias = &mw.correction_bias;
  in.prefill = args.prefill;
  if (args.strategy)
    args.strategy->route(in, m_decision);
  else
    route_native(in, m_decision);

  RoutingDecision& d = m_decision;
  if (d.tokens != T || d.k_max < 0 || d.experts.size() != size_t(T) * d.k_max || d.weights.size() != d.experts.size())
    throw Error("routing strategy returned a malformed decision at layer " + std::to_string(layer));
  if (d.dropped.size() != size_t(T)) d.dropped.assign(size_t(T), 0);
  for (int32_t e : d.experts)
    if (e < -1 || e >= E)
      throw Error("routing strategy chose expert " + std::to_string(e) + " at layer " + std::to_string(layer) +
                  " (the model has " + std::to_string(E) + ")");

  if (args.num_sinks > 0) {
    RoutingBatch batch;
    batch.layer = layer;
    batch.moe_layer = in.moe_layer;
    batch.tokens = T;
    batch.num_experts = E;
    batch.positions = m_positions.data();
    batch.token_ids = m_token_ids.data();
    batch.logits = m_router.data();
    batch.decision = &d;
    for (int s = 0; s < args.num_sinks; ++s) args.sinks[s]->on_routing(batch);
  }

  std::fill(m_moe_out.begin(), m_moe_out.begin() + size_t(T) * H, 0.0f);
  if (!routed_experts_in_parallel(mw, T, d)) routed_experts_one_by_one(mw, T, d);

  if (mw.shared.gate.valid() && d.shared_enabled) {
    ffn(mw.shared, m_xn.data(), T, m_ffn_out.data());
    for (int t = 0; t < T; ++t) {
      float g = 1.0f;
      if (mw.shared_gate.valid()) g = cpu::sigmoid(cpu::dot_row(m_xn.data() + size_t(t) * H, mw.shared_gate, 0));
      float* dst = m_moe_out.data() + size_t(t) * H;
      const float* src = m_ffn_out.data() + size_t(t) * H;
      for (int h = 0; h < H; ++h) dst[h] += g * src[h];
    }
  }
  add_residual(m_moe_out.data(), T);
}

// Expert by expert, each matrix split over the threads by rows: decode (one token, each expert's weights
// read once at memory speed by all threads), one thread, or a batch dominated by one expert.
void CpuBackend::routed_experts_one_by_one(const MoeWeights& mw, int T, const RoutingDecision& d) {
  const int H = m_cfg.hidden_size, E = m_cfg.num_experts, K = d.k_max;
  for (int e = 0; e < E; ++e) {
    int n = 0;
    for (int t = 0; t < T; ++t) {
      if (d.dropped[size_t(t)]) continue;
      for (int j = 0; j < K; ++j) {
        if (d.experts[size_t(t) * K + j] != e) continue;
        m_expert_rows[size_t(n)] = t;
        m_expert_weights[size_t(n)] = d.weights[size_t(t) * K + j];
        ++n;
        break;  // an expert counts once per token
      }
    }
    if (n == 0) continue;
    const float* xin;
    if (n == T) {  // every token (always the case when decoding): no gather needed
      xin = m_xn.data();
    } else {
      for (int i = 0; i < n; ++i)
        std::memcpy(m_gather.data() + size_t(i) * H, m_xn.data() + size_t(m_expert_rows[size_t(i)]) * H, sizeof(float) * H);
      xin = m_gather.data();
    }
    ffn(mw.experts[size_t(e)], xin, n, m_ffn_out.data());
    for (int i = 0; i < n; ++i) {
      add_weighted_row(m_moe_out.data() + size_t(m_expert_rows[size_t(i)]) * H, m_ffn_out.data() + size_t(i) * H,
                       m_expert_weights[size_t(i)], H);
    }
  }
}

// Prefill on several threads: whole experts in parallel, one per thread at a time, largest first, each
// with the same kernels (run inline on its thread) as one_by_one, into per-expert output rows; then the
// weighted sums in expert order exactly as one_by_one adds them, so the result is the same to the bit.
// Experts go in groups of at most 2T rows to bound the output buffer; all buffers together stay under
// 256 MiB (else one_by_one). A per-expert split costs two thread hand-overs per expert (128 per OLMoE
// layer) and splits small matrices; this costs one per group. Returns false (nothing done) where
// one_by_one is the better plan.
bool CpuBackend::routed_experts_in_parallel(const MoeWeights& mw, int T, const RoutingDecision& d) {
  const int threads = m_pool.size();
  if (T < 2 || threads < 2) return false;
  const int H = m_cfg.hidden_size, E = m_cfg.num_experts, K = d.k_max;
  const size_t cap_rows = size_t(2) * size_t(T);  // >= any one expert's rows
  const size_t per_thread = size_t(T) * (size_t(H) + 2 * size_t(m_expert_width));
  // The buffers below grow with T, H and the thread count; past this budget (long prompts of models with
  // wide experts on many threads: big matrices, which the row split handles well anyway) stay one by one.
  constexpr size_t kBudgetBytes = size_t(256) << 20;
  if ((per_thread * size_t(threads) + cap_rows * size_t(H)) * sizeof(float) > kBudgetBytes) return false;

  // Buckets: each expert's tokens in token order, with the weight of its first slot in that token.
  m_bucket_start.assign(size_t(E) + 1, 0);
  auto first_slot = [&](int t, int j) {
    const int32_t e = d.experts[size_t(t) * K + j];
    if (e < 0) return false;
    for (int i = 0; i < j; ++i)
      if (d.experts[size_t(t) * K + i] == e) return false;
    return true;
  };
  for (int t = 0; t < T; ++t) {
    if (d.dropped[size_t(t)]) continue;
    for (int j = 0; j < K; ++j)
      if (first_slot(t, j)) ++m_bucket_start[size_t(d.experts[size_t(t) * K + j]) + 1];
  }
  int largest = 0;
  for (int e = 0; e < E; ++e) {
    largest = std::max(largest, m_bucket_start[size_t(e) + 1]);
    m_bucket_start[size_t(e) + 1] += m_bucket_start[size_t(e)];
  }
  const int total = m_bucket_start[size_t(E)];
  if (total == 0) return true;                     // nothing routed (every token dropped or masked)
  if (int64_t(largest) * threads * 2 > int64_t(total) * 3) return false;  // one expert would keep one thread busy alone
  if (m_bucket_rows.size() < size_t(total)) {
    m_bucket_rows.resize(size_t(total));
    m_bucket_weights.resize(size_t(total));
  }
  {
    std::vector<int32_t>& fill = m_group_order;  // reused as the per-expert write cursor
    fill.assign(m_bucket_start.begin(), m_bucket_start.end() - 1);
    for (int t = 0; t < T; ++t) {
      if (d.dropped[size_t(t)]) continue;
      for (int j = 0; j < K; ++j) {
        if (!first_slot(t, j)) continue;
        const int32_t at = fill[size_t(d.experts[size_t(t) * K + j])]++;
        m_bucket_rows[size_t(at)] = t;
        m_bucket_weights[size_t(at)] = d.weights[size_t(t) * K + j];
      }
    }
  }

  if (m_group_out.size() < cap_rows * size_t(H)) m_group_out.resize(cap_rows * size_t(H));
  if (m_thread_scratch.size() < per_thread * size_t(threads)) m_thread_scratch.resize(per_thread * size_t(threads));

  for (int e0 = 0; e0 < E;) {
    int e1 = e0;
    while (e1 < E && (e1 == e0 || size_t(m_bucket_start[size_t(e1) + 1] - m_bucket_start[size_t(e0)]) <= cap_rows)) ++e1;
    m_group_order.clear();
    for (int e = e0; e < e1; ++e)
      if (m_bucket_start[size_t(e) + 1] > m_bucket_start[size_t(e)]) m_group_order.push_back(e);
    // Largest first, ties by index: a total order, so std::sort (which, unlike stable_sort, never allocates).
    std::sort(m_group_order.begin(), m_group_order.end(), [&](int32_t a, int32_t b) {
      const int32_t na = m_bucket_start[size_t(a) + 1] - m_bucket_start[size_t(a)];
      const int32_t nb = m_bucket_start[size_t(b) + 1] - m_bucket_start[size_t(b)];
      return na != nb ? na > nb : a < b;
    });
    const int32_t row0 = m_bucket_start[size_t(e0)];
    m_pool.parallel_for_each(int64_t(m_group_order.size()), [&](int64_t i, int th) {
      const int e = m_group_order[size_t(i)];
      const int32_t b = m_bucket_start[size_t(e)];
      const int n = m_bucket_start[size_t(e) + 1] - b;
      float* gather = m_thread_scratch.data() + per_thread * size_t(th);
      float* gate = gather + size_t(T) * size_t(H);
      float* up = gate + size_t(T) * size_t(m_expert_width);
      const float* xin = m_xn.data();
      if (n != T) {
        for (int r = 0; r < n; ++r)
          std::memcpy(gather + size_t(r) * H, m_xn.data() + size_t(m_bucket_rows[size_t(b + r)]) * H, sizeof(float) * H);
        xin = gather;
      }
      ffn(mw.experts[size_t(e)], xin, n, m_group_out.data() + size_t(b - row0) * H, gate, up);
    });
    for (int e = e0; e < e1; ++e)
      for (int32_t r = m_bucket_start[size_t(e)]; r < m_bucket_start[size_t(e) + 1]; ++r) {
        add_weighted_row(m_moe_out.data() + size_t(m_bucket_rows[size_t(r)]) * H,
                         m_group_out.data() + size_t(r - row0) * H, m_bucket_weights[size_t(r)], H);
      }
    e0 = e1;
  }
  return true;
}

}  // namespace moescope
