// Microsoft Phi-3.5-MoE (PhimoeForCausalLM, model_type phimoe; the released checkpoint's remote code calls it
// PhiMoEForCausalLM). A Mixtral-style decoder with four differences:
//  - LayerNorm with weight and bias (eps = rms_norm_eps) before attention, before the MoE and at the end;
//  - q/k/v/o projections with biases (attention_bias) and an lm_head bias (lm_head_bias);
//  - the router is transformers' sparsemixer (eval mode): pick the best logit, softmax over the logits within a
//    relative 2 * router_jitter_noise of it, weight = its probability; then the same without the first expert.
//    It always picks two experts, whatever num_experts_per_tok says;
//  - longrope RoPE (short factors and short_mscale up to original_max_position_embeddings positions).
// Hub names as Mixtral's: model.layers.L.block_sparse_moe.{gate, experts.E.{w1,w3,w2}}, plus the norms' .bias,
// self_attn.*_proj.bias and lm_head.bias; transformers 5 saves the same names.
#include <cmath>

#include "engine/model/families/family.h"

namespace moescope::families {

void parse_phimoe(const ConfigReader& r, ModelConfig& c) {
  parse_mixtral(r, c);
  // PhimoeConfig.default_theta: 1e6 when neither rope_theta nor rope_parameters.rope_theta is given
  const bool theta_given = r.has("rope_theta") || (r.has("rope_parameters") && r.j["rope_parameters"].is_object() &&
                                                   r.j["rope_parameters"].contains("rope_theta") &&
                                                   !r.j["rope_parameters"]["rope_theta"].is_null());
  if (!theta_given) c.rope.theta = 1e6;
  c.layer_norm = true;
  c.qkv_bias = c.o_bias = r.get_bool("attention_bias", false);
  c.lm_head_bias = r.get_bool("lm_head_bias", false);
  c.scoring = RouterScoring::SparseMixer;
  c.norm_topk_prob = false;
  const double eps = r.get_double("router_jitter_noise", 0.01);
  if (!std::isfinite(eps) || eps < 0 || eps > 1e6)
    r.fail("\"router_jitter_noise\" must be a non-negative number, got " + r.j["router_jitter_noise"].dump());
  c.router_jitter_noise = float(eps);
  if (c.num_experts_per_tok != 2)
    r.fail("num_experts_per_tok is " + std::to_string(c.num_experts_per_tok) +
           ", but Phi-MoE's sparsemixer router always picks 2 experts (as transformers runs it)");
  if (c.num_experts < 2) r.fail("num_local_experts must be at least 2 for the sparsemixer router");
  // PhimoeModel builds a sliding-window mask whenever sliding_window is set (Phi-3.5-MoE: 131072); within
  // the context we run (capped at the longrope switch point, below), it never masks anything.
  if (c.rope.type == "longrope") {
    const int rot = int(std::lround(c.head_dim * c.rope.partial_rotary_factor)) & ~1;
    if (int(c.rope.short_factor.size()) != rot / 2)
      r.fail("longrope factors have " + std::to_string(c.rope.short_factor.size()) + " entries, the rotary dimension " +
             std::to_string(rot) + " needs " + std::to_string(rot / 2));
  } else if (c.rope.type != "default") {
    r.fail("RoPE type '" + c.rope.type + "' is not supported for phimoe (default or longrope)");
  }
}

void bind_phimoe(const ModelConfig& c, WeightBinder& b, ModelWeights& w) { bind_mixtral(c, b, w); }

}  // namespace moescope::families
