// Mixtral (MixtralForCausalLM): GQA attention, every layer a softmax top-k MoE with renormalised
// weights. Hub names: model.layers.L.block_sparse_moe.{gate, experts.E.{w1,w3,w2}}; transformers 5 saves
// may use mlp.{gate, experts.gate_up_proj, experts.down_proj} instead.
#include "engine/model/families/family.h"

namespace moescope::families {

void parse_mixtral(const ConfigReader& r, ModelConfig& c) {
  parse_common_gqa(r, c);
  c.num_experts = r.get_int_any({"num_local_experts", "num_experts"});
  c.num_experts_per_tok = r.get_int("num_experts_per_tok");
  c.intermediate_size = r.get_int("intermediate_size");
  c.moe_intermediate_size = c.intermediate_size;  // Mixtral's experts are the intermediate_size MLPs
  c.scoring = RouterScoring::SoftmaxTopK;
  c.norm_topk_prob = true;  // MixtralSparseMoeBlock always renormalises the top-k weights
  c.layer_is_moe.assign(size_t(c.num_layers), true);
  const int w = r.get_int("sliding_window", 0);
  c.sliding_window = (w > 0 && (c.max_position_embeddings == 0 || w < c.max_position_embeddings)) ? w : 0;
}

void bind_mixtral(const ModelConfig& c, WeightBinder& b, ModelWeights& w) {
  bind_common_gqa(c, b, w);
  const Dim E{c.num_experts, "num_local_experts"}, H{c.hidden_size, "hidden_size"};
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = layer_prefix(i);
    const std::string moe = (!b.has(p + "block_sparse_moe.gate.weight") && b.has(p + "mlp.gate.weight"))
                                ? p + "mlp."
                                : p + "block_sparse_moe.";
    LayerWeights& L = w.layers[size_t(i)];
    L.is_moe = true;
    L.moe.router = b.need(moe + "gate.weight", {E, H});
    L.moe.experts = b.experts(moe + "experts.", c.intermediate_size, "intermediate_size", /*mixtral_names=*/true);
  }
}

}  // namespace moescope::families
