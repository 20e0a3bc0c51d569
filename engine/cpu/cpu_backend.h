// The CPU reference backend: a readable fp32 forward pass over weights in their stored dtype, with a
// preallocated KV cache. Layer pieces live in cpu_attention.cpp (GQA, MLA) and cpu_moe.cpp (dense
// MLP, routed + shared experts); this header is internal to engine/cpu.
#pragma once
#include <memory>
#include <vector>

#include "engine/cpu/backend.h"
#include "engine/routing/routing_types.h"
#include "engine/util/thread_pool.h"

namespace moescope {

struct FfnWeights;
struct LayerWeights;
struct MoeWeights;

class CpuBackend final : public Backend {
 public:
  CpuBackend(std::shared_ptr<const Model> model, int threads, int max_context);

  std::string name() const override { return "cpu"; }
  int max_context() const override { return m_ctx; }
  const float* forward(const ForwardArgs& args) override;

  ThreadPool& pool() { return m_pool; }

 private:
  void ensure_rows(int rows);  // grows the per-batch scratch (prefill only; decode reuses it)
  float* kcache(int layer) { return m_kcache[size_t(layer)].get(); }
  float* vcache(int layer) { return m_vcache[size_t(layer)].get(); }

  // cpu_attention.cpp
  void attention_gqa(int layer, int T, int pos0);
  void attention_mla(int layer, int T, int pos0);
  // out[t, h*v_dim ..] = softmax(q k^T * scale) v over cached positions [0, pos0 + t] of `layer`.
  void attend(int layer, const float* q, int64_t ldq, int T, int pos0, int heads, int kv_heads, int qk_dim, int v_dim,
              float scale, float* out);
  void apply_rope(float* v, int dim, int pos, float* tmp) const;

  // cpu_moe.cpp
  void ffn(const FfnWeights& w, const float* x, int rows, float* out) { ffn(w, x, rows, out, m_gate.data(), m_up.data()); }
  void ffn(const FfnWeights& w, const float* x, int rows, float* out, float* gate, float* up);
  void moe_block(int layer, int T, const ForwardArgs& args);
  void norm(const float* x, const TensorRef& w, const TensorRef& b, float* y) const;
  void add_residual(const float* out, int T);  // m_x += out * residual_multiplier over T rows
  void routed_experts_one_by_one(const MoeWeights& mw, int T, const RoutingDecision& d);
  bool routed_experts_in_parallel(const MoeWeights& mw, int T, const RoutingDecision& d);

  std::shared_ptr<const Model> m_model;
  const ModelConfig& m_cfg;
  ThreadPool m_pool;
  int m_ctx = 0;

  // KV cache per layer: K [ctx, m_kdim], V [ctx, m_vdim]. Allocated once, uninitialised, so the OS
  // only commits the pages a sequence actually reaches.
  int m_kdim = 0, m_vdim = 0;
  std::vector<std::unique_ptr<float[]>> m_kcache, m_vcache;

  // RoPE: cos/sin [ctx, m_rot_dim/2], already multiplied by the yarn attention factor.
  int m_rot_dim = 0;
  std::vector<float> m_cos, m_sin;
  float m_attn_scale = 1.0f;

  // Scratch, sized for m_rows tokens (one row for decode).
  int m_rows = 0;
  int m_ffn_width = 0;
  int m_expert_width = 0;  // widest routed expert (its gate rows)
  std::vector<float> m_x, m_xn, m_q, m_k, m_v, m_attn, m_tmp_h;
  std::vector<float> m_qa, m_kva, m_kvb;  // MLA
  std::vector<float> m_gate, m_up, m_ffn_out, m_moe_out, m_gather, m_router;
  std::vector<int32_t> m_positions, m_token_ids;
  std::vector<int32_t> m_expert_rows;   // token indices routed to the current expert
  std::vector<float> m_expert_weights;  // their weights
  // Prefill on several threads (routed_experts_in_parallel), grown on first use: every expert's rows and
  // weights (bucket e = [m_bucket_start[e], m_bucket_start[e + 1])), one group's expert outputs, and per
  // thread a gather buffer and gate/up scratch.
  std::vector<int32_t> m_bucket_start, m_bucket_rows, m_group_order;
  std::vector<float> m_bucket_weights, m_group_out, m_thread_scratch;
  std::vector<float> m_logits;  // [rows, vocab]: one row unless all logits were asked for
  std::vector<float> m_scores;  // per-thread attention scores [threads, ctx + 1]
  std::vector<float> m_rope_tmp;  // per-thread rope scratch
  RoutingDecision m_decision;
};

}  // namespace moescope
