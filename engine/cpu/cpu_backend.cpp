// CpuBackend: setup (cache, rope tables, weight checks) and the decoder loop of one forward call.
#include "engine/cpu/cpu_backend.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "engine/cpu/kernels.h"
#include "engine/util/error.h"
#include "engine/cpu/cuda_plugin.h"

namespace moescope {

namespace {

// The KV cache may use at most this much memory unless the caller asks for a context explicitly.
constexpr double kCacheBudgetBytes = 4.0 * 1024 * 1024 * 1024;

double yarn_get_mscale(double scale, double mscale) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

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
  validate_weights();

  const double bytes_per_pos = double(c.num_layers) * (m_kdim + m_vdim) * sizeof(float);
  int ctx = max_context > 0 ? max_context : c.max_position_embeddings;
  if (ctx <= 0) ctx = 4096;
  if (max_context <= 0) ctx = int(std::min<double>(ctx, std::max(256.0, kCacheBudgetBytes / bytes_per_pos)));
  m_ctx = ctx;
  for (int l = 0; l < c.num_layers; ++l) {
    m_kcache.emplace_back(new float[size_t(m_ctx) * m_kdim]);
    m_vcache.emplace_back(new float[size_t(m_ctx) * m_vdim]);
  }
  build_rope_tables();

  if (c.attention == AttentionKind::MLA) {
    m_attn_scale = float(1.0 / std::sqrt(double(c.qk_nope_head_dim + c.qk_rope_head_dim)));
    if (c.rope.type == "yarn" && c.rope.mscale_all_dim != 0) {
      const double m = yarn_get_mscale(c.rope.factor, c.rope.mscale_all_dim);
      m_attn_scale = float(double(m_attn_scale) * m * m);
    }
  } else {
    m_attn_scale = float(1.0 / std::sqrt(double(c.head_dim)));
  }

  m_ffn_width = std::max({c.intermediate_size, c.moe_intermediate_size, c.shared_intermediate_size, 1});
  for (const auto& L : m_model->weights().layers) {
    if (L.mlp.gate.valid()) m_ffn_width = std::max<int>(m_ffn_width, int(L.mlp.gate.rows()));
    if (L.moe.shared.gate.valid()) m_ffn_width = std::max<int>(m_ffn_width, int(L.moe.shared.gate.rows()));
    for (const auto& e : L.moe.experts)
      if (e.gate.valid()) m_ffn_width = std::max<int>(m_ffn_width, int(e.gate.rows()));
  }
  m_scores.assign(size_t(m_pool.size()) * (m_ctx + 1), 0.0f);
  m_rope_tmp.assign(size_t(m_pool.size()) * std::max(2, m_rot_dim), 0.0f);
  m_logits.assign(size_t(c.vocab_size), 0.0f);
  ensure_rows(1);
}

void CpuBackend::validate_weights() const {
  const ModelConfig& c = m_cfg;
  const ModelWeights& w = m_model->weights();
  const int64_t H = c.hidden_size;
  cpu::check_matrix(w.embed, c.vocab_size, H);
  cpu::check_matrix(w.lm_head, c.vocab_size, H);
  for (int l = 0; l < c.num_layers; ++l) {
    const LayerWeights& L = w.layers[size_t(l)];
    const AttentionWeights& a = L.attn;
    if (c.attention == AttentionKind::MLA) {
      const int qk = c.qk_nope_head_dim + c.qk_rope_head_dim;
      if (c.q_lora_rank > 0) {
        cpu::check_matrix(a.q_a, c.q_lora_rank, H);
        cpu::check_matrix(a.q_b, int64_t(c.num_heads) * qk, c.q_lora_rank);
      } else {
        cpu::check_matrix(a.q, int64_t(c.num_heads) * qk, H);
      }
      cpu::check_matrix(a.kv_a, c.kv_lora_rank + c.qk_rope_head_dim, H);
      cpu::check_matrix(a.kv_b, int64_t(c.num_heads) * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank);
      cpu::check_matrix(a.o, H, int64_t(c.num_heads) * c.v_head_dim);
    } else {
      cpu::check_matrix(a.q, int64_t(c.num_heads) * c.head_dim, H);
      cpu::check_matrix(a.k, m_kdim, H);
      cpu::check_matrix(a.v, m_vdim, H);
      cpu::check_matrix(a.o, H, int64_t(c.num_heads) * c.head_dim);
    }
    if (L.is_moe) {
      cpu::check_matrix(L.moe.router, c.num_experts, H);
      if (int(L.moe.experts.size()) != c.num_experts)
        throw Error("layer " + std::to_string(l) + ": " + std::to_string(L.moe.experts.size()) + " experts bound, config says " +
                    std::to_string(c.num_experts));
      for (const auto& e : L.moe.experts) {
        cpu::check_matrix(e.gate, -1, H);
        cpu::check_matrix(e.up, e.gate.rows(), H);
        cpu::check_matrix(e.down, H, e.gate.rows());
      }
      if (L.moe.shared.gate.valid()) {
        cpu::check_matrix(L.moe.shared.up, L.moe.shared.gate.rows(), H);
        cpu::check_matrix(L.moe.shared.down, H, L.moe.shared.gate.rows());
      }
      if (L.moe.shared_gate.valid()) cpu::check_matrix(L.moe.shared_gate, 1, H);
    } else {
      cpu::check_matrix(L.mlp.gate, -1, H);
      cpu::check_matrix(L.mlp.up, L.mlp.gate.rows(), H);
      cpu::check_matrix(L.mlp.down, H, L.mlp.gate.rows());
    }
  }
}

// Follows transformers' rope init functions in fp32 where they compute in fp32, so long positions
// round the same way.
void CpuBackend::build_rope_tables() {
  const RopeConfig& r = m_cfg.rope;
  const int half = m_rot_dim / 2;
  std::vector<float> inv(size_t(std::max(half, 1)));
  const float base = float(r.theta);
  for (int i = 0; i < half; ++i) {
    const float e = float(2 * i) / float(m_rot_dim);
    inv[size_t(i)] = 1.0f / std::pow(base, e);
  }
  float attention_factor = 1.0f;
  if (r.type == "linear") {
    for (auto& f : inv) f = f / float(r.factor);
  } else if (r.type == "yarn") {
    const double factor = r.factor;
    const double orig = r.original_max_position > 0 ? r.original_max_position : double(m_cfg.max_position_embeddings);
    if (r.attention_factor > 0)
      attention_factor = float(r.attention_factor);
    else if (r.mscale != 0 && r.mscale_all_dim != 0)
      attention_factor = float(yarn_get_mscale(factor, r.mscale) / yarn_get_mscale(factor, r.mscale_all_dim));
    else
      attention_factor = float(yarn_get_mscale(factor, 1.0));
    auto correction_dim = [&](double rot) {
      return (m_rot_dim * std::log(orig / (rot * 2 * M_PI))) / (2 * std::log(r.theta));
    };
    double low = correction_dim(r.beta_fast);
    double high = correction_dim(r.beta_slow);
    if (r.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, double(m_rot_dim - 1));
    if (low == high) high += 0.001;
    for (int i = 0; i < half; ++i) {
      const float pos_freq = std::pow(base, float(2 * i) / float(m_rot_dim));
      const float extrap = 1.0f / pos_freq;
      const float interp = 1.0f / (float(factor) * pos_freq);
      float ramp = (float(i) - float(low)) / (float(high) - float(low));
      ramp = std::clamp(ramp, 0.0f, 1.0f);
      const float extrap_factor = 1.0f - ramp;
      inv[size_t(i)] = interp * (1.0f - extrap_factor) + extrap * extrap_factor;
    }
  } else if (r.type != "default" && !r.type.empty()) {
    throw Error(m_cfg.config_path + ": rope type '" + r.type + "' is not implemented");
  }
  m_cos.assign(size_t(m_ctx) * half, 0.0f);
  m_sin.assign(size_t(m_ctx) * half, 0.0f);
  for (int p = 0; p < m_ctx; ++p) {
    for (int i = 0; i < half; ++i) {
      const float angle = inv[size_t(i)] * float(p);  // fp32 product, as torch computes freqs
      m_cos[size_t(p) * half + i] = float(std::cos(double(angle))) * attention_factor;
      m_sin[size_t(p) * half + i] = float(std::sin(double(angle))) * attention_factor;
    }
  }
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
    cpu::widen_row(w.embed, a.tokens[t], m_x.data() + size_t(t) * H);
  }
  auto check_cancel = [&] {
    if (a.cancel && a.cancel->load(std::memory_order_relaxed)) throw Cancelled();
  };
  if (a.observer) a.observer->on_hidden(0, a.first_position, T, H, m_x.data());

  for (int l = 0; l < c.num_layers; ++l) {
    check_cancel();
    const LayerWeights& L = w.layers[size_t(l)];
    for (int t = 0; t < T; ++t)
      cpu::rmsnorm(m_x.data() + size_t(t) * H, L.input_norm, H, c.rms_norm_eps, m_xn.data() + size_t(t) * H);
    if (c.attention == AttentionKind::MLA)
      attention_mla(l, T, a.first_position);
    else
      attention_gqa(l, T, a.first_position);
    for (int t = 0; t < T; ++t)
      cpu::rmsnorm(m_x.data() + size_t(t) * H, L.post_attention_norm, H, c.rms_norm_eps, m_xn.data() + size_t(t) * H);
    if (L.is_moe) {
      moe_block(l, T, a);
    } else {
      ffn(L.mlp, m_xn.data(), T, m_ffn_out.data());
      for (size_t i = 0; i < size_t(T) * H; ++i) m_x[i] += m_ffn_out[i];
    }
    if (a.observer && l + 1 < c.num_layers) a.observer->on_hidden(l + 1, a.first_position, T, H, m_x.data());
  }
  check_cancel();

  // Final norm: every row when all logits or the residual stream are wanted, else only the last.
  const bool all_rows = a.all_logits || a.observer;
  const int first_row = all_rows ? 0 : T - 1;
  for (int t = first_row; t < T; ++t)
    cpu::rmsnorm(m_x.data() + size_t(t) * H, w.final_norm, H, c.rms_norm_eps, m_xn.data() + size_t(t) * H);
  if (a.observer) a.observer->on_hidden(c.num_layers, a.first_position, T, H, m_xn.data());
  const int out_rows = a.all_logits ? T : 1;
  if (m_logits.size() < size_t(out_rows) * c.vocab_size) m_logits.resize(size_t(out_rows) * c.vocab_size);
  const int out_first = a.all_logits ? 0 : T - 1;
  cpu::linear(m_pool, m_xn.data() + size_t(out_first) * H, H, out_rows, w.lm_head, nullptr, m_logits.data(),
              c.vocab_size);
  return m_logits.data();
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
