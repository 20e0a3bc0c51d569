// CpuBackend: setup (cache, rope tables, weight checks) and the decoder loop of one forward call.
#include "engine/cpu/cpu_backend.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "engine/cpu/backend_setup.h"
#include "engine/cpu/cuda_plugin.h"
#include "engine/cpu/kernels.h"
#include "engine/util/error.h"

namespace moescope {

namespace {

// The KV cache may use at most this much memory unless the caller asks for a context explicitly.
constexpr double kCacheBudgetBytes = 4.0 * 1024 * 1024 * 1024;

}  // namespace

CpuBackend::CpuBackend(std::shared_ptr<const Model> model, int threads, int max_context)
    : m_model(std::move(model)), m_cfg(m_model->config()), m_pool(threads) {
  const ModelConfig& c = m_cfg;
  if (c.num_layers <= 0 || c.hidden_size <= 0 || c.vocab_size <= 0)
    throw Error(c.config_path + ": incomplete model description (layers, hidden size, vocabulary)");
  if (int(m_model->weights().layers.size()) != c.num_layers)
    throw Error(c.config_path + ": " + std::to_string(m_model->weights().layers.size()) + " bound layers, config says " +
                std::to_string(c.num_layers));
  if (c.attention == AttentionKind::MLA) {
    m_kdim = c.num_heads * (c.qk_nope_head_dim + c.qk_rope_head_dim);
    m_vdim = c.num_heads * c.v_head_dim;
    m_rot_dim = c.qk_rope_head_dim;
  } else {
    if (c.num_kv_heads <= 0 || c.num_heads % c.num_kv_heads != 0)
      throw Error(c.config_path + ": num_attention_heads must be a multiple of num_key_value_heads");
    m_kdim = m_vdim = c.num_kv_heads * c.head_dim;
    m_rot_dim = int(std::lround(c.head_dim * c.rope.partial_rotary_factor)) & ~1;
  }
  cpu::validate_weights(c, m_model->weights(), m_kdim, m_vdim);

  const double bytes_per_pos = double(c.num_layers) * (m_kdim + m_vdim) * sizeof(float);
  int ctx = cpu::context_limit(c, max_context, c.max_position_embeddings > 0 ? c.max_position_embeddings : 4096);
  if (max_context <= 0) ctx = int(std::min<double>(ctx, std::max(256.0, kCacheBudgetBytes / bytes_per_pos)));
  m_ctx = ctx;
  for (int l = 0; l < c.num_layers; ++l) {
    m_kcache.emplace_back(new float[size_t(m_ctx) * m_kdim]);
    m_vcache.emplace_back(new float[size_t(m_ctx) * m_vdim]);
  }
  cpu::build_rope_tables(c, m_rot_dim, m_ctx, m_cos, m_sin);

  m_attn_scale = cpu::attention_scale(c);

  m_ffn_width = std::max({c.intermediate_size, c.moe_intermediate_size, c.shared_intermediate_size, 1});
  for (const auto& L : m_model->weights().layers) {
    if (L.mlp.gate.valid()) m_ffn_width = std::max<int>(m_ffn_width, int(L.mlp.gate.rows()));
    if (L.moe.shared.gate.valid()) m_ffn_width = std::max<int>(m_ffn_width, int(L.moe.shared.gate.rows()));
    for (const auto& e : L.moe.experts)
      if (e.gate.valid()) {
        m_ffn_width = std::max<int>(m_ffn_width, int(e.gate.rows()));
        m_expert_width = std::max<int>(m_expert_width, int(e.gate.rows()));
      }
  }
  m_scores.assign(size_t(m_pool.size()) * (m_ctx + 1), 0.0f);
  m_rope_tmp.assign(size_t(m_pool.size()) * std::max(2, m_rot_dim), 0.0f);
  m_logits.assign(size_t(c.vocab_size), 0.0f);
  ensure_rows(1);
}

void CpuBackend::ensure_rows(int rows) {
  if (rows <= m_rows) return;
  const ModelConfig& c = m_cfg;
  const size_t T = size_t(rows);
  const size_t H = size_t(c.hidden_size);
  size_t qdim;
  if (c.attention == AttentionKind::MLA) {
    qdim = size_t(c.num_heads) * (c.qk_nope_head_dim + c.qk_rope_head_dim);
    m_qa.assign(T * std::max(1, c.q_lora_rank), 0.0f);
    m_kva.assign(T * (c.kv_lora_rank + c.qk_rope_head_dim), 0.0f);
    m_kvb.assign(T * c.num_heads * (c.qk_nope_head_dim + c.v_head_dim), 0.0f);
    m_attn.assign(T * c.num_heads * c.v_head_dim, 0.0f);
  } else {
    qdim = size_t(c.num_heads) * c.head_dim;
    m_attn.assign(T * qdim, 0.0f);
  }
  m_x.assign(T * H, 0.0f);
  m_xn.assign(T * H, 0.0f);
  m_tmp_h.assign(T * H, 0.0f);
  m_q.assign(T * qdim, 0.0f);
  m_k.assign(T * m_kdim, 0.0f);
  m_v.assign(T * m_vdim, 0.0f);
  m_gate.assign(T * m_ffn_width, 0.0f);
  m_up.assign(T * m_ffn_width, 0.0f);
  m_ffn_out.assign(T * H, 0.0f);
  m_moe_out.assign(T * H, 0.0f);
  m_gather.assign(T * H, 0.0f);
  m_router.assign(T * std::max(1, c.num_experts), 0.0f);
  m_positions.assign(T, 0);
  m_token_ids.assign(T, 0);
  m_expert_rows.assign(T, 0);
  m_expert_weights.assign(T, 0.0f);
  m_rows = rows;
}

const float* CpuBackend::forward(const ForwardArgs& a) {
  const ModelConfig& c = m_cfg;
  const ModelWeights& w = m_model->weights();
  const int T = a.count;
  if (T <= 0) throw Error("forward: no tokens to run");
  if (a.first_position < 0 || a.first_position + T > m_ctx)
    throw Error("sequence of " + std::to_string(a.first_position + T) + " tokens exceeds the context of " +
                std::to_string(m_ctx));
  for (int t = 0; t < T; ++t)
    if (a.tokens[t] < 0 || a.tokens[t] >= c.vocab_size)
      throw Error("token id " + std::to_string(a.tokens[t]) + " is outside the vocabulary of " +
                  std::to_string(c.vocab_size));
  ensure_rows(T);
  const int H = c.hidden_size;
  for (int t = 0; t < T; ++t) {
    m_positions[size_t(t)] = a.first_position + t;
    m_token_ids[size_t(t)] = a.tokens[t];
    float* x = m_x.data() + size_t(t) * H;
    cpu::widen_row(w.embed, a.tokens[t], x);
    if (c.embedding_multiplier != 1.0f)
      for (int h = 0; h < H; ++h) x[h] *= c.embedding_multiplier;
  }
  auto check_cancel = [&] {
    if (a.cancel && a.cancel->load(std::memory_order_relaxed)) throw Cancelled();
  };
  if (a.observer) a.observer->on_hidden(0, a.first_position, T, H, m_x.data());

  for (int l = 0; l < c.num_layers; ++l) {
    check_cancel();
    const LayerWeights& L = w.layers[size_t(l)];
    for (int t = 0; t < T; ++t) norm(m_x.data() + size_t(t) * H, L.input_norm, L.input_norm_bias, m_xn.data() + size_t(t) * H);
    if (c.attention == AttentionKind::MLA)
      attention_mla(l, T, a.first_position);
    else
      attention_gqa(l, T, a.first_position);
    for (int t = 0; t < T; ++t)
      norm(m_x.data() + size_t(t) * H, L.post_attention_norm, L.post_attention_norm_bias, m_xn.data() + size_t(t) * H);
    if (L.is_moe) {
      moe_block(l, T, a);
    } else {
      ffn(L.mlp, m_xn.data(), T, m_ffn_out.data());
      add_residual(m_ffn_out.data(), T);
    }
    if (a.observer && l + 1 < c.num_layers) a.observer->on_hidden(l + 1, a.first_position, T, H, m_x.data());
  }
  check_cancel();

  // Final norm: every row when all logits or the residual stream are wanted, else only the last.
  const bool all_rows = a.all_logits || a.observer;
  const int first_row = all_rows ? 0 : T - 1;
  for (int t = first_row; t < T; ++t) norm(m_x.data() + size_t(t) * H, w.final_norm, w.final_norm_bias, m_xn.data() + size_t(t) * H);
  if (a.observer) a.observer->on_hidden(c.num_layers, a.first_position, T, H, m_xn.data());
  const int out_rows = a.all_logits ? T : 1;
  if (m_logits.size() < size_t(out_rows) * c.vocab_size) m_logits.resize(size_t(out_rows) * c.vocab_size);
  const int out_first = a.all_logits ? 0 : T - 1;
  cpu::linear(m_pool, m_xn.data() + size_t(out_first) * H, H, out_rows, w.lm_head, &w.lm_head_bias, m_logits.data(),
              c.vocab_size);
  if (c.logits_scaling != 1.0f)  // Granite: a division, as transformers writes it
    for (size_t i = 0; i < size_t(out_rows) * c.vocab_size; ++i) m_logits[i] /= c.logits_scaling;
  return m_logits.data();
}

// The decoder's norms: RMSNorm, or LayerNorm with its bias (PhiMoE), both with eps = rms_norm_eps.
void CpuBackend::norm(const float* x, const TensorRef& w, const TensorRef& b, float* y) const {
  if (m_cfg.layer_norm)
    cpu::layernorm(x, w, b, m_cfg.hidden_size, m_cfg.rms_norm_eps, y);
  else
    cpu::rmsnorm(x, w, m_cfg.hidden_size, m_cfg.rms_norm_eps, y);
}

// x += out * residual_multiplier: the rounding of transformers' `residual + hidden_states * residual_multiplier`
// (Granite; the multiplier is 1 elsewhere, where the product is exact and this is the plain residual add).
void CpuBackend::add_residual(const float* out, int T) {
  const float m = m_cfg.residual_multiplier;
  const size_t n = size_t(T) * size_t(m_cfg.hidden_size);
  for (size_t i = 0; i < n; ++i) m_x[i] += out[i] * m;
}

std::unique_ptr<Backend> make_cpu_backend(std::shared_ptr<const Model> model, int threads, int max_context) {
  return std::make_unique<CpuBackend>(std::move(model), threads, max_context);
}

std::unique_ptr<Backend> make_backend(const std::string& backend, std::shared_ptr<const Model> model, int threads,
                                      int max_context) {
  if (backend.empty() || backend == "cpu") return make_cpu_backend(std::move(model), threads, max_context);
  if (backend == "cuda") return load_cuda_backend(std::move(model), max_context);
  throw Error("unknown backend '" + backend + "' (expected cpu or cuda)");
}

}  // namespace moescope
