// Qwen3-MoE (Qwen3MoeForCausalLM): GQA with explicit head_dim and per-head q/k RMSNorm (size head_dim),
// no shared expert; softmax top-k renormalised with norm_topk_prob; Qwen dense-layer rules.
#include "engine/model/families/family.h"

namespace moescope::families {

void parse_qwen3_moe(const ConfigReader& r, ModelConfig& c) {
  parse_common_gqa(r, c);
  c.num_experts = r.get_int_any({"num_experts", "num_local_experts"});
  c.num_experts_per_tok = r.get_int("num_experts_per_tok");
  c.moe_intermediate_size = r.get_int("moe_intermediate_size");
  c.intermediate_size = r.get_int("intermediate_size", 0);
  c.scoring = RouterScoring::SoftmaxTopK;
  c.norm_topk_prob = r.get_bool("norm_topk_prob", false);
  c.qk_norm_per_head = true;
  c.qkv_bias = c.o_bias = r.get_bool("attention_bias", false);
  parse_qwen_moe_layers(r, c);
  reject_qwen_sliding_window(r, c);
  for (bool m : c.layer_is_moe)
    if (!m && c.intermediate_size <= 0) r.fail("dense layers need a positive \"intermediate_size\"");
}

void bind_qwen3_moe(const ModelConfig& c, WeightBinder& b, ModelWeights& w) {
  bind_common_gqa(c, b, w);
  const Dim E{c.num_experts, "num_experts"}, H{c.hidden_size, "hidden_size"};
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = layer_prefix(i) + "mlp.";
    LayerWeights& L = w.layers[size_t(i)];
    if (!L.is_moe) {
      L.mlp = b.ffn(p, c.intermediate_size, "intermediate_size");
      continue;
    }
    L.moe.router = b.need(p + "gate.weight", {E, H});
    L.moe.experts = b.experts(p + "experts.", c.moe_intermediate_size, "moe_intermediate_size");
  }
}

}  // namespace moescope::families
