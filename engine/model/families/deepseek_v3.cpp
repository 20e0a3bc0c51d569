// DeepSeek-V3 (DeepseekV3ForCausalLM): MLA attention (low-rank q and kv, split nope/rope head dims,
// interleaved RoPE, yarn scaling), sigmoid router with e_score_correction_bias and group-limited top-k,
// shared experts stored as one MLP of width moe_intermediate_size * n_shared_experts, and the first
// first_k_dense_replace layers dense. The multi-token-prediction layer (model.layers.{num_hidden_layers})
// is tolerated and not loaded. DeepSeek-V2 (deepseek_v2.cpp) shares everything here except the router.
#include <cmath>

#include "engine/model/families/family.h"

namespace moescope::families {

void parse_deepseek_experts(const ConfigReader& r, ModelConfig& c, int default_shared) {
  c.num_experts = r.get_int_any({"n_routed_experts", "num_experts", "num_local_experts"});
  c.num_experts_per_tok = r.get_int("num_experts_per_tok");
  c.moe_intermediate_size = r.get_int("moe_intermediate_size");
  c.intermediate_size = r.get_int("intermediate_size");
  c.num_shared_experts = r.get_int("n_shared_experts", default_shared);
  if (c.num_shared_experts < 0) r.fail("\"n_shared_experts\" must not be negative");
  c.shared_intermediate_size = c.moe_intermediate_size * c.num_shared_experts;
  c.routed_scaling_factor = float(r.get_double("routed_scaling_factor", 1.0));
  if (!(c.routed_scaling_factor > 0.0f) || !std::isfinite(c.routed_scaling_factor))
    r.fail("\"routed_scaling_factor\" must be a positive number");
}

void parse_deepseek_common(const ConfigReader& r, ModelConfig& c) {
  parse_common_base(r, c);
  const std::string family = family_name(c.family);
  c.attention = AttentionKind::MLA;
  c.num_heads = r.get_int("num_attention_heads");
  c.num_kv_heads = c.num_heads;  // MLA: every head has its own k/v (expanded from the shared latent)
  c.q_lora_rank = r.get_int("q_lora_rank", 0);
  c.kv_lora_rank = r.get_int("kv_lora_rank");
  c.qk_nope_head_dim = r.get_int("qk_nope_head_dim");
  c.qk_rope_head_dim = r.get_int("qk_rope_head_dim");
  c.v_head_dim = r.get_int("v_head_dim");
  c.head_dim = c.qk_nope_head_dim + c.qk_rope_head_dim;
  if (c.num_heads <= 0 || c.kv_lora_rank <= 0 || c.qk_rope_head_dim <= 0 || c.qk_rope_head_dim % 2 || c.v_head_dim <= 0 ||
      c.qk_nope_head_dim < 0 || c.q_lora_rank < 0)
    r.fail("MLA dimensions (num_attention_heads, kv_lora_rank, qk_rope_head_dim (even), v_head_dim) must be positive");
  if (r.get_bool("attention_bias", false)) r.fail("attention_bias true is not supported for " + family);
  if (r.get_bool("mlp_bias", false)) r.fail("mlp_bias true is not supported for " + family);

  parse_deepseek_experts(r, c, /*default_shared=*/0);
  c.num_nextn_predict_layers = r.get_int("num_nextn_predict_layers", 0);

  const int first_dense = r.get_int("first_k_dense_replace", 0);
  const int freq = r.get_int("moe_layer_freq", 1);
  if (freq <= 0) r.fail("\"moe_layer_freq\" must be positive");
  c.layer_is_moe.assign(size_t(c.num_layers), false);
  for (int i = 0; i < c.num_layers; ++i)
    c.layer_is_moe[size_t(i)] = c.num_experts > 0 && i >= first_dense && i % freq == 0;
}

void check_deepseek_groups(const ConfigReader& r, ModelConfig& c) {
  if (c.n_group <= 0 || c.num_experts % c.n_group != 0 || c.topk_group <= 0 || c.topk_group > c.n_group)
    r.fail("n_group must divide n_routed_experts and 0 < topk_group <= n_group");
  if (c.num_experts_per_tok > (c.num_experts / c.n_group) * c.topk_group)
    r.fail("num_experts_per_tok is larger than the experts in topk_group groups");
}

void parse_deepseek_v3(const ConfigReader& r, ModelConfig& c) {
  parse_deepseek_common(r, c);
  c.rope.interleaved = r.get_bool("rope_interleave", true);  // older configs lack the key; V3 always interleaves
  c.n_group = r.get_int("n_group", 1);
  c.topk_group = r.get_int("topk_group", 1);
  c.norm_topk_prob = r.get_bool("norm_topk_prob", true);
  c.scoring = RouterScoring::SigmoidGroupTopK;
  c.score_correction_bias = true;
  const std::string scoring = r.get_string("scoring_func", "sigmoid");
  if (scoring != "sigmoid") r.fail("scoring_func '" + scoring + "' is not supported (deepseek_v3 uses sigmoid)");
  const std::string method = r.get_string("topk_method", "noaux_tc");
  if (method != "noaux_tc") r.fail("topk_method '" + method + "' is not supported (deepseek_v3 uses noaux_tc)");
  check_deepseek_groups(r, c);
}

void bind_deepseek_v3(const ModelConfig& c, WeightBinder& b, ModelWeights& w) {
  const Dim V{c.vocab_size, "vocab_size"}, H{c.hidden_size, "hidden_size"};
  w.embed = b.need("model.embed_tokens.weight", {V, H});
  w.final_norm = b.need("model.norm.weight", {H});
  if (c.tie_word_embeddings) {
    w.lm_head = w.embed;
    b.ignore("lm_head.weight");
  } else {
    w.lm_head = b.need("lm_head.weight", {V, H});
  }
  const Dim QH{int64_t(c.num_heads) * (c.qk_nope_head_dim + c.qk_rope_head_dim),
               "num_attention_heads*(qk_nope_head_dim+qk_rope_head_dim)"};
  const Dim QL{c.q_lora_rank, "q_lora_rank"}, KL{c.kv_lora_rank, "kv_lora_rank"};
  const Dim KA{c.kv_lora_rank + c.qk_rope_head_dim, "kv_lora_rank+qk_rope_head_dim"};
  const Dim KB{int64_t(c.num_heads) * (c.qk_nope_head_dim + c.v_head_dim),
               "num_attention_heads*(qk_nope_head_dim+v_head_dim)"};
  const Dim O{int64_t(c.num_heads) * c.v_head_dim, "num_attention_heads*v_head_dim"};
  w.layers.assign(size_t(c.num_layers), LayerWeights{});
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = layer_prefix(i);
    LayerWeights& L = w.layers[size_t(i)];
    L.input_norm = b.need(p + "input_layernorm.weight", {H});
    L.post_attention_norm = b.need(p + "post_attention_layernorm.weight", {H});
    AttentionWeights& a = L.attn;
    const std::string s = p + "self_attn.";
    if (c.q_lora_rank > 0) {
      a.q_a = b.need(s + "q_a_proj.weight", {QL, H});
      a.q_a_norm = b.need(s + "q_a_layernorm.weight", {QL});
      a.q_b = b.need(s + "q_b_proj.weight", {QH, QL});
    } else {
      a.q = b.need(s + "q_proj.weight", {QH, H});
    }
    a.kv_a = b.need(s + "kv_a_proj_with_mqa.weight", {KA, H});
    a.kv_a_norm = b.need(s + "kv_a_layernorm.weight", {KL});
    a.kv_b = b.need(s + "kv_b_proj.weight", {KB, KL});
    a.o = b.need(s + "o_proj.weight", {H, O});

    L.is_moe = c.layer_is_moe[size_t(i)];
    bind_shared_experts_mlp(c, b, i, L,
                            {"n_routed_experts", "moe_intermediate_size*n_shared_experts",
                             c.score_correction_bias ? "gate.e_score_correction_bias" : nullptr});
  }
}

}  // namespace moescope::families
