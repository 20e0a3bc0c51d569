// Layer pieces of the CUDA backend, in the order of the CPU reference (engine/cpu/cpu_attention.cpp,
// engine/cpu/cpu_moe.cpp): GQA and MLA attention into the device KV cache, the dense SwiGLU MLP, and
// the MoE block (device router or host strategy -> expert lists -> grouped expert kernels -> combine).
#include <algorithm>
#include <cstring>

#include "engine/cuda/attention.cuh"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/expert_ffn.cuh"
#include "engine/cuda/norm_rope.cuh"
#include "engine/cuda/router.cuh"
#include "engine/routing/strategy.h"
#include "engine/util/error.h"

namespace moescope::cuda {

namespace {

int sliding_window(const ModelConfig& c, int layer) {
  if (!c.layer_sliding.empty()) return c.layer_sliding[size_t(layer)] ? c.sliding_window : 0;
  return c.sliding_window;
}

}  // namespace

void CudaBackend::attention_gqa(int layer, int T, int pos0) {
  const ModelConfig& c = m_cfg;
  const DevLayer& L = m_w.layers[size_t(layer)];
  const int H = c.hidden_size, hd = c.head_dim;
  const int qdim = c.num_heads * hd;
  float *q = m_q.get(), *k = m_k.get(), *v = m_v.get();
  m_linear.run(m_xn.get(), H, T, L.q, L.q_bias, q, qdim);
  m_linear.run(m_xn.get(), H, T, L.k, L.k_bias, k, m_kdim);
  m_linear.run(m_xn.get(), H, T, L.v, L.v_bias, v, m_vdim);
  if (c.qk_norm_full) {  // OLMoE: over the whole projection, before the head split
    launch_rmsnorm(q, qdim, T, qdim, L.q_norm, c.rms_norm_eps, q, qdim, m_s);
    launch_rmsnorm(k, m_kdim, T, m_kdim, L.k_norm, c.rms_norm_eps, k, m_kdim, m_s);
  } else if (c.qk_norm_per_head) {  // Qwen3-MoE: per head (rows of head_dim)
    launch_rmsnorm(q, hd, T * c.num_heads, hd, L.q_norm, c.rms_norm_eps, q, hd, m_s);
    launch_rmsnorm(k, hd, T * c.num_kv_heads, hd, L.k_norm, c.rms_norm_eps, k, hd, m_s);
  }
  if (c.clip_qkv > 0) {
    launch_clamp(q, size_t(T) * qdim, c.clip_qkv, m_s);
    launch_clamp(k, size_t(T) * m_kdim, c.clip_qkv, m_s);
    launch_clamp(v, size_t(T) * m_vdim, c.clip_qkv, m_s);
  }
  launch_rope(q, qdim, T, c.num_heads, hd, 0, m_rot_dim, pos0, m_cos.get(), m_sin.get(), c.rope.interleaved, m_s, m_pos_ptr);
  launch_rope(k, m_kdim, T, c.num_kv_heads, hd, 0, m_rot_dim, pos0, m_cos.get(), m_sin.get(), c.rope.interleaved, m_s, m_pos_ptr);
  launch_kv_store(k, T, m_kdim, pos0, kcache(layer), m_s, m_pos_ptr);
  launch_kv_store(v, T, m_vdim, pos0, vcache(layer), m_s, m_pos_ptr);
  const float* sinks = c.attention_sinks ? L.sinks : nullptr;
  launch_attention(q, qdim, T, pos0, kcache(layer), vcache(layer), c.num_heads, c.num_kv_heads, hd, hd, m_attn_scale,
                   sliding_window(c, layer), sinks, m_attn.get(), m_s, m_pos_ptr);
  m_linear.run(m_attn.get(), qdim, T, L.o, L.o_bias, residual_target(T), H, /*accumulate=*/true);
  add_residual(T);
}

// DeepSeek-V3 MLA as transformers computes it (expanded per-head keys/values cached), like the CPU.
void CudaBackend::attention_mla(int layer, int T, int pos0) {
  const ModelConfig& c = m_cfg;
  const DevLayer& L = m_w.layers[size_t(layer)];
  const int H = c.hidden_size;
  const int nope = c.qk_nope_head_dim, rope = c.qk_rope_head_dim, vd = c.v_head_dim;
  const int qk = nope + rope;
  const int qdim = c.num_heads * qk;
  const int kva_dim = c.kv_lora_rank + rope;
  const int kvb_dim = c.num_heads * (nope + vd);
  constexpr float kLoraEps = 1e-6f;  // DeepseekV3RMSNorm's default eps, as in the CPU backend

  if (c.q_lora_rank > 0) {
    m_linear.run(m_xn.get(), H, T, L.q_a, nullptr, m_qa.get(), c.q_lora_rank);
    launch_rmsnorm(m_qa.get(), c.q_lora_rank, T, c.q_lora_rank, L.q_a_norm, kLoraEps, m_qa.get(), c.q_lora_rank, m_s);
    m_linear.run(m_qa.get(), c.q_lora_rank, T, L.q_b, nullptr, m_q.get(), qdim);
  } else {
    m_linear.run(m_xn.get(), H, T, L.q, nullptr, m_q.get(), qdim);
  }
  m_linear.run(m_xn.get(), H, T, L.kv_a, nullptr, m_kva.get(), kva_dim);
  launch_rmsnorm(m_kva.get(), kva_dim, T, c.kv_lora_rank, L.kv_a_norm, kLoraEps, m_kva.get(), kva_dim, m_s);
  m_linear.run(m_kva.get(), kva_dim, T, L.kv_b, nullptr, m_kvb.get(), kvb_dim);

  launch_rope(m_q.get(), qdim, T, c.num_heads, qk, nope, rope, pos0, m_cos.get(), m_sin.get(), c.rope.interleaved, m_s, m_pos_ptr);
  float* k_rot = m_kva.get() + c.kv_lora_rank;
  launch_rope(k_rot, kva_dim, T, 1, 0, 0, rope, pos0, m_cos.get(), m_sin.get(), c.rope.interleaved, m_s, m_pos_ptr);
  launch_mla_fill_cache(m_kvb.get(), k_rot, kva_dim, T, pos0, c.num_heads, nope, rope, vd, kcache(layer), vcache(layer),
                        m_s, m_pos_ptr);
  launch_attention(m_q.get(), qdim, T, pos0, kcache(layer), vcache(layer), c.num_heads, c.num_heads, qk, vd, m_attn_scale,
                   sliding_window(c, layer), nullptr, m_attn.get(), m_s, m_pos_ptr);
  m_linear.run(m_attn.get(), c.num_heads * vd, T, L.o, nullptr, residual_target(T), H, /*accumulate=*/true);
  add_residual(T);
}

void CudaBackend::ffn(const DevFfn& w, const float* x, int rows, float* out, bool accumulate) {
  const int H = m_cfg.hidden_size;
  const int I = w.gate.rows;
  m_linear.run(x, H, rows, w.gate, w.gate_bias, m_gate.get(), I);
  m_linear.run(x, H, rows, w.up, w.up_bias, m_up.get(), I);
  launch_swiglu(m_gate.get(), m_up.get(), size_t(rows) * I, m_cfg.swiglu_limit, m_s);
  m_linear.run(m_gate.get(), I, rows, w.down, w.down_bias, out, H, accumulate);
}

void CudaBackend::moe_block(int layer, int moe_index, int T, const ForwardArgs& a, bool native) {
  const ModelConfig& c = m_cfg;
  const DevLayer& L = m_w.layers[size_t(layer)];
  const int H = c.hidden_size, E = c.num_experts;
  const int32_t* experts = nullptr;
  const float* weights = nullptr;
  const uint8_t* dropped = nullptr;
  int k = 0;
  bool shared_enabled = true;

  if (native) {
    // Router logits, experts and weights go straight into this step's routing-record slot.
    float* logits = m_ring.logits(moe_index);
    m_linear.run(m_xn.get(), H, T, L.router, L.router_bias, logits, E);
    RouterParams p = native_router_params(c, E, m_native_k);
    p.correction_bias = L.correction_bias;
    launch_route_native(logits, T, p, m_ring.experts(moe_index), m_ring.weights(moe_index), m_router_scratch.get(), m_s);
    experts = m_ring.experts(moe_index);
    weights = m_ring.weights(moe_index);
    k = m_native_k;
    ensure_pairs(size_t(T) * k);
  } else {
    // Host strategy: router logits down (the one sync of a non-native layer), decisions up.
    m_linear.run(m_xn.get(), H, T, L.router, L.router_bias, m_router.get(), E);
    MOESCOPE_CUDA_CHECK(cudaMemcpyAsync(m_router_host.get(), m_router.get(), sizeof(float) * size_t(T) * E,
                                        cudaMemcpyDeviceToHost, m_s));
    MOESCOPE_CUDA_CHECK(cudaStreamSynchronize(m_s));
    RouterInput in;
    in.config = &c;
    in.layer = layer;
    in.moe_layer = moe_index;
    in.tokens = T;
    in.num_experts = E;
    in.logits = m_router_host.get();
    in.positions = m_positions.data();
    in.token_ids = m_token_ids.data();
    in.correction_bias = &m_model->weights().layers[size_t(layer)].moe.correction_bias;
    in.prefill = a.prefill;
    a.strategy->route(in, m_decision);
    RoutingDecision& d = m_decision;
    if (d.tokens != T || d.k_max < 0 || d.experts.size() != size_t(T) * d.k_max || d.weights.size() != d.experts.size())
      throw Error("routing strategy returned a malformed decision at layer " + std::to_string(layer));
    if (d.dropped.size() != size_t(T)) d.dropped.assign(size_t(T), 0);
    for (int32_t e : d.experts)
      if (e < -1 || e >= E)
        throw Error("routing strategy chose expert " + std::to_string(e) + " at layer " + std::to_string(layer) +
                    " (the model has " + std::to_string(E) + ")");
    if (a.num_sinks > 0) {
      RoutingBatch batch;
      batch.layer = layer;
      batch.moe_layer = moe_index;
      batch.tokens = T;
      batch.num_experts = E;
      batch.positions = m_positions.data();
      batch.token_ids = m_token_ids.data();
      batch.logits = m_router_host.get();
      batch.decision = &d;
      for (int s = 0; s < a.num_sinks; ++s) a.sinks[s]->on_routing(batch);
    }
    k = d.k_max;
    shared_enabled = d.shared_enabled;
    ensure_pairs(size_t(T) * k);
    if (k > 0) {
      const size_t n = size_t(T) * k;
      std::memcpy(m_dec_experts_host.get(), d.experts.data(), n * sizeof(int32_t));
      std::memcpy(m_dec_weights_host.get(), d.weights.data(), n * sizeof(float));
      std::memcpy(m_dropped_host.get(), d.dropped.data(), size_t(T));
      MOESCOPE_CUDA_CHECK(cudaMemcpyAsync(m_dec_experts.get(), m_dec_experts_host.get(), n * sizeof(int32_t),
                                          cudaMemcpyHostToDevice, m_s));
      MOESCOPE_CUDA_CHECK(cudaMemcpyAsync(m_dec_weights.get(), m_dec_weights_host.get(), n * sizeof(float),
                                          cudaMemcpyHostToDevice, m_s));
      MOESCOPE_CUDA_CHECK(cudaMemcpyAsync(m_dropped.get(), m_dropped_host.get(), size_t(T), cudaMemcpyHostToDevice, m_s));
      experts = m_dec_experts.get();
      weights = m_dec_weights.get();
      dropped = m_dropped.get();
    }
  }

  if (k > 0) {
    launch_build_expert_lists(experts, dropped, T, k, E, m_counts.get(), m_offsets.get(), m_active.get(), m_n_active.get(),
                              m_pair_tok.get(), m_slot_pair.get(), m_s);
    ExpertLists lists;
    lists.offsets = m_offsets.get();
    lists.active = m_active.get();
    lists.n_active = m_n_active.get();
    lists.pair_tok = m_pair_tok.get();
    lists.slot_pair = m_slot_pair.get();
    const int max_active = int(std::min<long long>(E, (long long)T * k));
    launch_expert_gate_up(m_xn.get(), lists, L.experts, max_active, T, c.swiglu_limit, m_act.get(), m_s);
    if (T > 1) launch_expert_down(m_act.get(), lists, L.experts, max_active, T, m_out_pair.get(), m_s);
  }
  const float* shared_out = nullptr;
  const float* shared_gate = nullptr;
  if (L.shared.valid() && shared_enabled) {
    ffn(L.shared, m_xn.get(), T, m_shared_out.get(), /*accumulate=*/false);
    shared_out = m_shared_out.get();
    if (L.shared_gate.valid()) {
      m_linear.run(m_xn.get(), H, T, L.shared_gate, nullptr, m_shared_gate.get(), 1);
      shared_gate = m_shared_gate.get();
    }
  }
  float* x = residual_target(T);
  if (T == 1 && k > 0)  // decode: down + weighted sum + shared + residual in one kernel
    launch_expert_down_combine_1(x, m_act.get(), experts, m_slot_pair.get(), weights, k, L.experts, shared_out,
                                 shared_gate, m_s);
  else
    launch_moe_combine(x, T, k, H, m_out_pair.get(), k > 0 ? m_slot_pair.get() : nullptr, weights, shared_out,
                       shared_gate, m_s);
  add_residual(T);
}

}  // namespace moescope::cuda
