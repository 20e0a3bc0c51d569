// dots.llm1 (rednote-hilab, Dots1ForCausalLM, model_type dots1): Qwen3's attention (GQA, RMSNorm of size
// head_dim on each q and k head before RoPE, biases on q/k/v/o when attention_bias) with DeepSeek-V3's MoE
// (sigmoid router, e_score_correction_bias for the choice, group-limited top-k, the chosen sigmoid scores
// renormalised when norm_topk_prob, times routed_scaling_factor; shared experts of width
// moe_intermediate_size * n_shared_experts added unweighted; the first first_k_dense_replace layers dense).
// Tensor names as DeepSeek-V3's / GLM-4.5's: mlp.gate.weight, mlp.gate.e_score_correction_bias,
// mlp.experts.E.*, mlp.shared_experts.*.
#include "engine/model/families/family.h"

namespace moescope::families {

void parse_dots1(const ConfigReader& r, ModelConfig& c) {
  parse_common_gqa(r, c);
  c.qkv_bias = c.o_bias = r.get_bool("attention_bias", false);
  c.qk_norm_per_head = true;

  parse_deepseek_experts(r, c, /*default_shared=*/0);
  c.n_group = r.get_int("n_group", 1);
  c.topk_group = r.get_int("topk_group", 1);
  c.norm_topk_prob = r.get_bool("norm_topk_prob", false);  // Dots1Config's default
  c.scoring = RouterScoring::SigmoidGroupTopK;
  c.score_correction_bias = true;
  check_deepseek_groups(r, c);

  const int first_dense = r.get_int("first_k_dense_replace", 0);
  if (first_dense < 0) r.fail("\"first_k_dense_replace\" must not be negative");
  c.layer_is_moe.assign(size_t(c.num_layers), false);
  for (int i = 0; i < c.num_layers; ++i) c.layer_is_moe[size_t(i)] = c.num_experts > 0 && i >= first_dense;

  // Attention per layer as Dots1Config decides it: "layer_types" when given, else sliding_window (4096 when the
  // key is absent, none when null) on the layers from max_window_layers (62) on. use_sliding_window is not read.
  const bool absent = !r.j.contains("sliding_window");
  const int window = absent ? 4096 : r.get_int("sliding_window", 0);
  if (window < 0) r.fail("\"sliding_window\" must not be negative");
  if (!read_layer_types(r, c)) {
    const int from = r.get_int("max_window_layers", 62);
    for (int i = 0; i < c.num_layers; ++i) c.layer_sliding[size_t(i)] = window > 0 && i >= from;
  }
  bool any = false;
  for (bool s : c.layer_sliding) any = any || s;
  if (any && window <= 0) r.fail("\"layer_types\" has sliding_attention layers but no \"sliding_window\"");
  c.sliding_window = any ? window : 0;
}

// The tensors are GLM-4.5's: GQA attention (q/k norms and biases as the config says), then per layer a dense MLP
// or DeepSeek-style routed + shared experts with gate.e_score_correction_bias.
void bind_dots1(const ModelConfig& c, WeightBinder& b, ModelWeights& w) { bind_glm4_moe(c, b, w); }

}  // namespace moescope::families
