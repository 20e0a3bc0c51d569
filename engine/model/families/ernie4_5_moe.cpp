// ERNIE 4.5 MoE (Ernie4_5_MoeForCausalLM, model_type ernie4_5_moe: ERNIE-4.5-21B-A3B-PT, -300B-A47B-PT): GQA
// attention with RoPE on interleaved pairs, tied embeddings as released; the router of transformers'
// Ernie4_5_MoeTopKRouter: softmax over the experts in fp32, the choice on softmax + e_score_correction_bias
// (mlp.moe_statics, shape [1, E]), weights = the chosen probabilities / max(their sum, moe_norm_min); shared
// experts (mlp.shared_experts, moe_num_shared_experts * moe_intermediate_size wide); MoE layers are
// moe_layer_start_index..moe_layer_end_index every moe_layer_interval-th, the others dense.
#include <cmath>

#include "engine/model/families/family.h"

namespace moescope::families {

void parse_ernie4_5_moe(const ConfigReader& r, ModelConfig& c) {
  parse_common_gqa(r, c);
  c.rope.interleaved = true;  // rotate_half on (2i, 2i+1) with cos/sin repeated per pair
  // Biases on every projection and on lm_head exist in the format but in no released checkpoint.
  if (r.get_bool("use_bias", false)) r.fail("use_bias true is not supported for ernie4_5_moe");
  const std::string act = r.get_string("moe_gate_act", "softmax");
  if (act != "softmax") r.fail("moe_gate_act '" + act + "' is not supported (ernie4_5_moe uses softmax)");

  c.num_experts = r.get_int_any({"moe_num_experts", "num_experts"});
  c.num_experts_per_tok = r.get_int_any({"moe_k", "num_experts_per_tok"});
  c.moe_intermediate_size = r.get_int("moe_intermediate_size");
  c.intermediate_size = r.get_int("intermediate_size");
  c.num_shared_experts = r.get_int("moe_num_shared_experts", 0);
  if (c.num_shared_experts < 0) r.fail("\"moe_num_shared_experts\" must not be negative");
  c.shared_intermediate_size = c.moe_intermediate_size * c.num_shared_experts;
  c.scoring = RouterScoring::SoftmaxTopK;
  c.score_correction_bias = true;
  c.norm_topk_prob = true;
  c.router_norm_min = float(r.get_double("moe_norm_min", 1e-12));
  if (!(c.router_norm_min >= 0.0f) || !std::isfinite(c.router_norm_min))
    r.fail("\"moe_norm_min\" must be a non-negative number");

  const int start = r.get_int("moe_layer_start_index", 1);
  int end = r.get_int("moe_layer_end_index", -1);
  if (end == -1) end = c.num_layers - 1;  // transformers' convention
  const int interval = r.get_int("moe_layer_interval", 1);
  if (interval <= 0) r.fail("\"moe_layer_interval\" must be positive");
  c.layer_is_moe.assign(size_t(c.num_layers), false);
  for (int i = 0; i < c.num_layers; ++i)
    c.layer_is_moe[size_t(i)] = c.num_experts > 0 && (i + 1) % interval == 0 && i >= start && i <= end;
}

void bind_ernie4_5_moe(const ModelConfig& c, WeightBinder& b, ModelWeights& w) {
  bind_common_gqa(c, b, w);
  for (int i = 0; i < c.num_layers; ++i)
    bind_shared_experts_mlp(c, b, i, w.layers[size_t(i)],
                            {"moe_num_experts", "moe_intermediate_size*moe_num_shared_experts",
                             "moe_statics.e_score_correction_bias", /*bias_row=*/true});
}

}  // namespace moescope::families
