// Feed-forward parts of the CPU backend: the SwiGLU MLP, and the MoE block (router -> strategy ->
// probes -> routed experts in expert order, as transformers accumulates them -> shared expert).
#include <algorithm>
#include <cstring>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/kernels.h"
#include "engine/routing/strategy.h"
#include "engine/util/error.h"

namespace moescope {

void CpuBackend::ffn(const FfnWeights& w, const float* x, int rows, float* out) {
  const int H = m_cfg.hidden_size;
  const int I = int(w.gate.rows());
  const cpu::LinearJob jobs[2] = {{&w.gate, &w.gate_bias, m_gate.data(), I}, {&w.up, &w.up_bias, m_up.data(), I}};
  cpu::linear_multi(m_pool, x, H, rows, jobs, 2);
  const size_t n = size_t(rows) * I;
  float* g = m_gate.data();
  const float* u = m_up.data();
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
  const int K = d.k_max;
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
      float* dst = m_moe_out.data() + size_t(m_expert_rows[size_t(i)]) * H;
      const float* src = m_ffn_out.data() + size_t(i) * H;
      const float wgt = m_expert_weights[size_t(i)];
      for (int h = 0; h < H; ++h) dst[h] += src[h] * wgt;
    }
  }

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
  for (size_t i = 0; i < size_t(T) * H; ++i) m_x[i] += m_moe_out[i];
}

}  // namespace moescope
