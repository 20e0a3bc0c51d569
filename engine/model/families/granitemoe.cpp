// IBM Granite MoE (GraniteMoeForCausalLM, model_type granitemoe: granite-3.0/3.1 *-a400m / *-a800m; and
// GraniteMoeSharedForCausalLM, granitemoeshared, which adds an always-on shared MLP). A Mixtral-style decoder
// (GQA, every layer a top-k MoE whose weights are the softmax over the k chosen logits) with four scalars:
// embeddings * embedding_multiplier, attention scores * attention_multiplier (instead of 1/sqrt(head_dim)),
// x + block output * residual_multiplier, logits / logits_scaling. Released names:
// model.layers.L.block_sparse_moe.{router.layer.weight [E,H], input_linear.weight [E,2I,H] (gate rows first),
// output_linear.weight [E,H,I]} and model.layers.L.shared_mlp.{input_linear [2S,H], output_linear [H,S]};
// transformers 5 renames them on load to block_sparse_moe.{router.weight, experts.gate_up_proj, experts.down_proj},
// which are accepted as well.
#include <cmath>

#include "engine/model/families/family.h"

namespace moescope::families {

void parse_granitemoe(const ConfigReader& r, ModelConfig& c) {
  parse_common_gqa(r, c);
  // GraniteMoeConfig's defaults where a key is absent, as transformers reads the file.
  c.num_experts = r.get_int("num_local_experts", 8);
  c.num_experts_per_tok = r.get_int("num_experts_per_tok", 2);
  c.intermediate_size = r.get_int("intermediate_size");  // the width of each expert
  c.moe_intermediate_size = c.intermediate_size;
  c.scoring = RouterScoring::SoftmaxTopK;  // softmax over the k best logits = softmax, top-k, renormalise
  c.norm_topk_prob = true;
  c.qkv_bias = c.o_bias = r.get_bool("attention_bias", false);
  if (r.get_bool("mlp_bias", false)) r.fail("\"mlp_bias\" true is not supported (Granite MoE experts have no biases)");
  auto multiplier = [&](const char* key, bool positive) {
    const double v = r.get_double(key, 1.0);
    if (!std::isfinite(v) || (positive && !(v > 0)) || std::fabs(v) > 1e30)
      r.fail(std::string("\"") + key + "\" must be a finite " + (positive ? "positive " : "") + "number, got " +
             r.j[key].dump());
    return float(v);
  };
  c.embedding_multiplier = multiplier("embedding_multiplier", false);
  c.residual_multiplier = multiplier("residual_multiplier", false);
  c.attention_multiplier = multiplier("attention_multiplier", true);  // GraniteMoeConfig: 1.0 when absent
  c.logits_scaling = multiplier("logits_scaling", true);
  if (c.model_type == "granitemoeshared") {
    c.shared_intermediate_size = r.get_int("shared_intermediate_size", 0);
    if (c.shared_intermediate_size < 0) r.fail("\"shared_intermediate_size\" must not be negative");
    c.num_shared_experts = c.shared_intermediate_size > 0 ? 1 : 0;
  }
  c.layer_is_moe.assign(size_t(c.num_layers), true);
}

void bind_granitemoe(const ModelConfig& c, WeightBinder& b, ModelWeights& w) {
  bind_common_gqa(c, b, w);
  const Dim E{c.num_experts, "num_local_experts"}, H{c.hidden_size, "hidden_size"};
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = layer_prefix(i), m = p + "block_sparse_moe.";
    LayerWeights& L = w.layers[size_t(i)];
    L.is_moe = true;
    const bool renamed = !b.has(m + "router.layer.weight") && b.has(m + "router.weight");  // transformers 5 names
    L.moe.router = b.need(m + (renamed ? "router.weight" : "router.layer.weight"), {E, H});
    if (!b.has(m + "input_linear.weight") && (b.has(m + "experts.gate_up_proj") || b.has(m + "experts.down_proj")))
      L.moe.experts = b.experts(m + "experts.", c.intermediate_size, "intermediate_size");
    else
      L.moe.experts = b.fused_experts(m + "input_linear.weight", m + "output_linear.weight", c.intermediate_size,
                                      "intermediate_size");
    if (c.shared_intermediate_size > 0)
      L.moe.shared = b.fused_ffn(p + "shared_mlp.input_linear.weight", p + "shared_mlp.output_linear.weight",
                                 c.shared_intermediate_size, "shared_intermediate_size");
  }
}

}  // namespace moescope::families
