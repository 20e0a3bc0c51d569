// Parameter counts from the architecture alone (config.json), for `moescope info` and for checking a
// checkpoint against its config. "Active" = what one token touches: everything except the routed
// experts the router did not select (k of E run in every MoE layer).
#include "engine/model/model.h"

namespace moescope {

namespace {

double attention_params(const ModelConfig& c) {
  const double H = c.hidden_size, nh = c.num_heads;
  if (c.attention == AttentionKind::MLA) {
    const double qk = c.qk_nope_head_dim + c.qk_rope_head_dim;
    double q = c.q_lora_rank > 0 ? H * c.q_lora_rank + c.q_lora_rank + double(c.q_lora_rank) * nh * qk : H * nh * qk;
    double kv = H * (c.kv_lora_rank + c.qk_rope_head_dim) + c.kv_lora_rank +
                double(c.kv_lora_rank) * nh * (c.qk_nope_head_dim + c.v_head_dim);
    double o = nh * c.v_head_dim * H;
    return q + kv + o;
  }
  const double q = nh * c.head_dim, kv = double(c.num_kv_heads) * c.head_dim;
  double n = H * q + 2 * H * kv + q * H;
  if (c.qkv_bias) n += q + 2 * kv;
  if (c.o_bias) n += H;
  if (c.qk_norm_full) n += q + kv;
  if (c.qk_norm_per_head) n += 2.0 * c.head_dim;
  if (c.attention_sinks) n += nh;
  return n;
}

double ffn_params(const ModelConfig& c, double width, bool biases) {
  double n = 3.0 * c.hidden_size * width;
  if (biases) n += 2 * width + c.hidden_size;
  return n;
}

}  // namespace

ParamCounts count_parameters(const ModelConfig& c) {
  const double H = c.hidden_size;
  ParamCounts p;
  p.embedding = double(c.vocab_size) * H;
  const double norm = c.layer_norm ? 2 * H : H;  // LayerNorm: weight and bias
  double total = p.embedding + norm;  // embedding + final norm
  if (!c.tie_word_embeddings) total += p.embedding;
  if (c.lm_head_bias) total += c.vocab_size;
  double inactive = 0;
  const bool expert_bias = c.family == Family::GptOss;
  for (int i = 0; i < c.num_layers; ++i) {
    total += 2 * norm + attention_params(c);
    const bool moe = i < int(c.layer_is_moe.size()) && c.layer_is_moe[size_t(i)];
    if (!moe) {
      total += ffn_params(c, c.intermediate_size, false);
      continue;
    }
    const double expert = ffn_params(c, c.moe_intermediate_size, expert_bias);
    total += c.num_experts * expert + double(c.num_experts) * H;
    if (c.router_bias) total += c.num_experts;
    if (c.score_correction_bias) total += c.num_experts;
    if (c.shared_intermediate_size > 0) total += ffn_params(c, c.shared_intermediate_size, false);
    if (c.shared_expert_gate) total += H;
    inactive += double(c.num_experts - c.num_experts_per_tok) * expert;
  }
  p.total = total;
  p.active = total - inactive;
  p.active_without_embedding = p.active - p.embedding;
  return p;
}

}  // namespace moescope
