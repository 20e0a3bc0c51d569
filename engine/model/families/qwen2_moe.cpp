// Qwen2-MoE / Qwen1.5-MoE (Qwen2MoeForCausalLM): GQA with q/k/v bias, softmax top-k routed experts plus
// a shared expert scaled by sigmoid(shared_expert_gate x); layers in mlp_only_layers or off the
// decoder_sparse_step stride are dense MLPs of intermediate_size.
#include "engine/model/families/family.h"

namespace moescope::families {

void parse_qwen2_moe(const ConfigReader& r, ModelConfig& c) {
  parse_common_gqa(r, c);
  c.num_experts = r.get_int_any({"num_experts", "num_local_experts"});
  c.num_experts_per_tok = r.get_int("num_experts_per_tok");
  c.moe_intermediate_size = r.get_int("moe_intermediate_size");
  c.intermediate_size = r.get_int("intermediate_size");
  c.scoring = RouterScoring::SoftmaxTopK;
  c.norm_topk_prob = r.get_bool("norm_topk_prob", false);
  c.qkv_bias = r.get_bool("qkv_bias", true);  // older configs have no key: Qwen2-MoE always had q/k/v bias
  const int shared = r.get_int("shared_expert_intermediate_size", 0);
  if (shared > 0) {
    c.num_shared_experts = 1;
    c.shared_intermediate_size = shared;
    c.shared_expert_gate = true;
  }
  parse_qwen_moe_layers(r, c);
  reject_qwen_sliding_window(r, c);
}

void bind_qwen2_moe(const ModelConfig& c, WeightBinder& b, ModelWeights& w) {
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
    if (c.num_shared_experts > 0) {
      L.moe.shared = b.ffn(p + "shared_expert.", c.shared_intermediate_size, "shared_expert_intermediate_size");
      L.moe.shared_gate = b.need(p + "shared_expert_gate.weight", {Dim{1, "1"}, H});
    }
  }
}

}  // namespace moescope::families
