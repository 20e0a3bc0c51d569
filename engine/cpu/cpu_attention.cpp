// Attention of the CPU backend: grouped-query attention (Mixtral, OLMoE, Qwen) and DeepSeek's
// multi-head latent attention, both writing into the preallocated KV cache and sharing attend().
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/kernels.h"
#include "engine/cpu/vec_kernels.h"

namespace moescope {

void CpuBackend::apply_rope(float* v, int dim, int pos, float* tmp) const {
  const int half = m_rot_dim / 2;
  const float* cs = m_cos.data() + size_t(pos) * half;
  const float* sn = m_sin.data() + size_t(pos) * half;
  if (m_cfg.rope.interleaved)
    cpu::rope_interleaved(v, dim, cs, sn, tmp);
  else
    cpu::rope_rotate_half(v, dim, cs, sn);
}

void CpuBackend::attention_gqa(int layer, int T, int pos0) {
  const ModelConfig& c = m_cfg;
  const AttentionWeights& a = m_model->weights().layers[size_t(layer)].attn;
  const int H = c.hidden_size, hd = c.head_dim;
  const int qdim = c.num_heads * hd;
  const cpu::LinearJob jobs[3] = {{&a.q, &a.q_bias, m_q.data(), qdim},
                                  {&a.k, &a.k_bias, m_k.data(), m_kdim},
                                  {&a.v, &a.v_bias, m_v.data(), m_vdim}};
  cpu::linear_multi(m_pool, m_xn.data(), H, T, jobs, 3);

  float* tmp = m_rope_tmp.data();
  for (int t = 0; t < T; ++t) {
    float* q = m_q.data() + size_t(t) * qdim;
    float* k = m_k.data() + size_t(t) * m_kdim;
    float* v = m_v.data() + size_t(t) * m_vdim;
    if (c.qk_norm_full) {  // OLMoE: over the whole projection, before the head split
      cpu::rmsnorm(q, a.q_norm, qdim, c.rms_norm_eps, q);
      cpu::rmsnorm(k, a.k_norm, m_kdim, c.rms_norm_eps, k);
    } else if (c.qk_norm_per_head) {  // Qwen3-MoE: per head
      for (int h = 0; h < c.num_heads; ++h) cpu::rmsnorm(q + h * hd, a.q_norm, hd, c.rms_norm_eps, q + h * hd);
      for (int h = 0; h < c.num_kv_heads; ++h) cpu::rmsnorm(k + h * hd, a.k_norm, hd, c.rms_norm_eps, k + h * hd);
    }
    if (c.clip_qkv > 0) {
      const float lim = c.clip_qkv;
      for (int i = 0; i < qdim; ++i) q[i] = std::clamp(q[i], -lim, lim);
      for (int i = 0; i < m_kdim; ++i) k[i] = std::clamp(k[i], -lim, lim);
      for (int i = 0; i < m_vdim; ++i) v[i] = std::clamp(v[i], -lim, lim);
    }
    const int pos = pos0 + t;
    for (int h = 0; h < c.num_heads; ++h) apply_rope(q + h * hd, m_rot_dim, pos, tmp);
    for (int h = 0; h < c.num_kv_heads; ++h) apply_rope(k + h * hd, m_rot_dim, pos, tmp);
    std::memcpy(kcache(layer) + size_t(pos) * m_kdim, k, sizeof(float) * m_kdim);
    std::memcpy(vcache(layer) + size_t(pos) * m_vdim, v, sizeof(float) * m_vdim);
  }
  attend(layer, m_q.data(), qdim, T, pos0, c.num_heads, c.num_kv_heads, hd, hd, m_attn_scale, m_attn.data());
  cpu::linear(m_pool, m_attn.data(), qdim, T, a.o, &a.o_bias, m_tmp_h.data(), H);
  add_residual(m_tmp_h.data(), T);
}

// DeepSeek-V3 MLA as transformers computes it: the latent kv is expanded per head and the expanded
// keys/values are cached (simple and exact; the absorbed form would cache only the latent).
void CpuBackend::attention_mla(int layer, int T, int pos0) {
  const ModelConfig& c = m_cfg;
  const AttentionWeights& a = m_model->weights().layers[size_t(layer)].attn;
  const int H = c.hidden_size;
  const int nope = c.qk_nope_head_dim, rope = c.qk_rope_head_dim, vd = c.v_head_dim;
  const int qk = nope + rope;
  const int qdim = c.num_heads * qk;
  const int kva_dim = c.kv_lora_rank + rope;
  const int kvb_dim = c.num_heads * (nope + vd);
  constexpr float kLoraEps = 1e-6f;  // q_a_layernorm / kv_a_layernorm use DeepseekV3RMSNorm's default eps

  if (c.q_lora_rank > 0) {
    const cpu::LinearJob jobs[2] = {{&a.q_a, nullptr, m_qa.data(), c.q_lora_rank}, {&a.kv_a, nullptr, m_kva.data(), kva_dim}};
    cpu::linear_multi(m_pool, m_xn.data(), H, T, jobs, 2);
    for (int t = 0; t < T; ++t) {
      float* r = m_qa.data() + size_t(t) * c.q_lora_rank;
      cpu::rmsnorm(r, a.q_a_norm, c.q_lora_rank, kLoraEps, r);
    }
    cpu::linear(m_pool, m_qa.data(), c.q_lora_rank, T, a.q_b, nullptr, m_q.data(), qdim);
  } else {
    const cpu::LinearJob jobs[2] = {{&a.q, nullptr, m_q.data(), qdim}, {&a.kv_a, nullptr, m_kva.data(), kva_dim}};
    cpu::linear_multi(m_pool, m_xn.data(), H, T, jobs, 2);
  }
  // The normed latent overwrites the first kv_lora values of each kv_a row in place.
  for (int t = 0; t < T; ++t) {
    float* r = m_kva.data() + size_t(t) * kva_dim;
    cpu::rmsnorm(r, a.kv_a_norm, c.kv_lora_rank, kLoraEps, r);
  }
  cpu::linear(m_pool, m_kva.data(), kva_dim, T, a.kv_b, nullptr, m_kvb.data(), kvb_dim);

  float* tmp = m_rope_tmp.data();
  for (int t = 0; t < T; ++t) {
    const int pos = pos0 + t;
    float* q = m_q.data() + size_t(t) * qdim;
    for (int h = 0; h < c.num_heads; ++h) apply_rope(q + h * qk + nope, rope, pos, tmp);
    float* k_rot = m_kva.data() + size_t(t) * kva_dim + c.kv_lora_rank;
    apply_rope(k_rot, rope, pos, tmp);
    float* kc = kcache(layer) + size_t(pos) * m_kdim;
    float* vc = vcache(layer) + size_t(pos) * m_vdim;
    const float* kvb = m_kvb.data() + size_t(t) * kvb_dim;
    for (int h = 0; h < c.num_heads; ++h) {
      std::memcpy(kc + h * qk, kvb + h * (nope + vd), sizeof(float) * nope);
      std::memcpy(kc + h * qk + nope, k_rot, sizeof(float) * rope);
      std::memcpy(vc + h * vd, kvb + h * (nope + vd) + nope, sizeof(float) * vd);
    }
  }
  attend(layer, m_q.data(), qdim, T, pos0, c.num_heads, c.num_heads, qk, vd, m_attn_scale, m_attn.data());
  const int odim = c.num_heads * vd;
  cpu::linear(m_pool, m_attn.data(), odim, T, a.o, &a.o_bias, m_tmp_h.data(), H);
  add_residual(m_tmp_h.data(), T);
}

void CpuBackend::attend(int layer, const float* q, int64_t ldq, int T, int pos0, int heads, int kv_heads, int qk_dim,
                        int v_dim, float scale, float* out) {
  const ModelConfig& c = m_cfg;
  const float* K = kcache(layer);
  const float* V = vcache(layer);
  const int group = heads / kv_heads;
  const int kstride = kv_heads * qk_dim;
  const int vstride = kv_heads * v_dim;
  int window = c.sliding_window;
  if (!c.layer_sliding.empty()) window = c.layer_sliding[size_t(layer)] ? c.sliding_window : 0;
  const TensorRef& sinks = m_model->weights().layers[size_t(layer)].attn.sinks;
  const bool use_sinks = c.attention_sinks && sinks.valid();
  const int64_t odim = int64_t(heads) * v_dim;
  const int ctx1 = m_ctx + 1;

  // Work per (token, head) grows with the context; short contexts run on the calling thread.
  const int64_t per_item = int64_t(pos0 + T) * (qk_dim + v_dim);
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, per_item));
  m_pool.parallel_for(int64_t(T) * heads, grain, [&](int64_t begin, int64_t end, int thread) {
    float* scores = m_scores.data() + size_t(thread) * ctx1;
    for (int64_t item = begin; item < end; ++item) {
      const int t = int(item / heads), h = int(item % heads);
      const int kvh = h / group;
      const int pos = pos0 + t;
      const int first = window > 0 ? std::max(0, pos - window + 1) : 0;
      const float* qh = q + t * ldq + int64_t(h) * qk_dim;
      float mx = -INFINITY;
      for (int j = first; j <= pos; ++j) {
        const float* kj = K + int64_t(j) * kstride + int64_t(kvh) * qk_dim;
        const float s = cpu::dot_f32(qh, kj, qk_dim) * scale;
        scores[j] = s;
        mx = std::max(mx, s);
      }
      const float sink = use_sinks ? sinks.at(h) : 0.0f;
      if (use_sinks) mx = std::max(mx, sink);
      float sum = 0.0f;
      for (int j = first; j <= pos; ++j) {
        scores[j] = std::exp(scores[j] - mx);
        sum += scores[j];
      }
      if (use_sinks) sum += std::exp(sink - mx);
      float* o = out + t * odim + int64_t(h) * v_dim;
      std::fill(o, o + v_dim, 0.0f);
      for (int j = first; j <= pos; ++j) {
        const float p = scores[j] / sum;
        const float* vj = V + int64_t(j) * vstride + int64_t(kvh) * v_dim;
        for (int d = 0; d < v_dim; ++d) o[d] += p * vj[d];
      }
    }
  });
}

}  // namespace moescope
