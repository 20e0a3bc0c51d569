// OLMoE (OlmoeForCausalLM): GQA with RMSNorm over the whole q / k projection (q_norm [heads*hd],
// k_norm [kv*hd]), optional clip_qkv, softmax top-k MoE renormalised only with norm_topk_prob.
#include "engine/model/families/family.h"

namespace moescope::families {

void parse_olmoe(const ConfigReader& r, ModelConfig& c) {
  parse_common_gqa(r, c);
  c.num_experts = r.get_int_any({"num_experts", "num_local_experts"});
  c.num_experts_per_tok = r.get_int("num_experts_per_tok");
  c.intermediate_size = r.get_int("intermediate_size");  // OLMoE's intermediate_size is the expert width
  c.moe_intermediate_size = c.intermediate_size;
  c.scoring = RouterScoring::SoftmaxTopK;
  c.norm_topk_prob = r.get_bool("norm_topk_prob", false);
  c.qk_norm_full = true;
  c.clip_qkv = float(r.get_double("clip_qkv", 0.0));
  if (c.clip_qkv < 0) r.fail("\"clip_qkv\" must not be negative");
  c.qkv_bias = c.o_bias = r.get_bool("attention_bias", false);
  c.layer_is_moe.assign(size_t(c.num_layers), true);
}

void bind_olmoe(const ModelConfig& c, WeightBinder& b, ModelWeights& w) {
  bind_common_gqa(c, b, w);
  const Dim E{c.num_experts, "num_experts"}, H{c.hidden_size, "hidden_size"};
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = layer_prefix(i) + "mlp.";
    LayerWeights& L = w.layers[size_t(i)];
    L.is_moe = true;
    L.moe.router = b.need(p + "gate.weight", {E, H});
    L.moe.experts = b.experts(p + "experts.", c.intermediate_size, "intermediate_size");
  }
}

}  // namespace moescope::families
