// GLM-4.5 / GLM-4.6 (Glm4MoeForCausalLM, model_type glm4_moe): GQA attention with q/k/v biases (no o bias),
// optional per-head q/k RMSNorm (use_qk_norm) and partial RoPE (partial_rotary_factor, 0.5 when the config
// does not say, as transformers assumes); DeepSeek-V3's router (sigmoid, e_score_correction_bias for the
// choice, group-limited top-k with the other groups at -inf, renormalised, times routed_scaling_factor), one
// shared expert (mlp.shared_experts), the first first_k_dense_replace layers dense. The multi-token-prediction
// layer stored after the decoder (model.layers.{num_hidden_layers}) is tolerated and not loaded.
#include "engine/model/families/family.h"

namespace moescope::families {

namespace {

bool rope_object_has(const ConfigReader& r, const char* object, const char* key) {
  return r.has(object) && r.j[object].is_object() && r.j[object].contains(key) && !r.j[object][key].is_null();
}

}  // namespace

void parse_glm4_moe(const ConfigReader& r, ModelConfig& c) {
  parse_common_gqa(r, c);
  if (!r.has("partial_rotary_factor") && !rope_object_has(r, "rope_parameters", "partial_rotary_factor") &&
      !rope_object_has(r, "rope_scaling", "partial_rotary_factor"))
    c.rope.partial_rotary_factor = 0.5;  // Glm4MoeConfig's default
  c.qkv_bias = r.get_bool("attention_bias", false);
  c.o_bias = false;
  c.qk_norm_per_head = r.get_bool("use_qk_norm", false);

  parse_deepseek_experts(r, c, /*default_shared=*/1);  // Glm4MoeConfig: n_shared_experts 1
  c.n_group = r.get_int("n_group", 1);
  c.topk_group = r.get_int("topk_group", 1);
  c.norm_topk_prob = r.get_bool("norm_topk_prob", true);
  c.scoring = RouterScoring::SigmoidGroupTopK;
  c.score_correction_bias = true;
  check_deepseek_groups(r, c);
  c.num_nextn_predict_layers = r.has("num_nextn_predict_layers") ? r.get_int("num_nextn_predict_layers")
                                                                 : r.get_int("num_mtp_layers", 0);

  const int first_dense = r.get_int("first_k_dense_replace", 1);
  if (first_dense < 0) r.fail("\"first_k_dense_replace\" must not be negative");
  c.layer_is_moe.assign(size_t(c.num_layers), false);
  for (int i = 0; i < c.num_layers; ++i) c.layer_is_moe[size_t(i)] = c.num_experts > 0 && i >= first_dense;
}

void bind_glm4_moe(const ModelConfig& c, WeightBinder& b, ModelWeights& w) {
  bind_common_gqa(c, b, w);
  for (int i = 0; i < c.num_layers; ++i)
    bind_shared_experts_mlp(c, b, i, w.layers[size_t(i)],
                            {"n_routed_experts", "moe_intermediate_size*n_shared_experts", "gate.e_score_correction_bias"});
}

}  // namespace moescope::families
