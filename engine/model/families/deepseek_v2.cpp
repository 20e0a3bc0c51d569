// DeepSeek-V2 (DeepseekV2ForCausalLM, e.g. DeepSeek-V2-Lite, DeepSeek-V2, DeepSeek-Coder-V2): the
// DeepSeek-V3 model (MLA attention, interleaved RoPE with yarn, shared experts, dense first layers; see
// deepseek_v3.cpp) with the older router of transformers' DeepseekV2TopkRouter: softmax over all experts,
// then topk_method "greedy" (plain top-k) or "group_limited_greedy" (top-k within the topk_group groups
// whose best probability is highest), weights not renormalised, times routed_scaling_factor. There is
// no e_score_correction_bias. The tensors are bound by bind_deepseek_v3.
#include "engine/model/families/family.h"

namespace moescope::families {

void parse_deepseek_v2(const ConfigReader& r, ModelConfig& c) {
  parse_deepseek_common(r, c);
  c.rope.interleaved = true;  // transformers rotates consecutive pairs (complex multiplication); there is no key
  const std::string scoring = r.get_string("scoring_func", "softmax");
  if (scoring != "softmax") r.fail("scoring_func '" + scoring + "' is not supported (deepseek_v2 uses softmax)");
  // transformers' DeepseekV2TopkRouter never renormalises; DeepSeek's own modeling code does when this is
  // true. Every released DeepSeek-V2 config says false; a true one is ambiguous, so it is refused.
  if (r.get_bool("norm_topk_prob", false))
    r.fail("norm_topk_prob true is not supported for deepseek_v2 (transformers ignores it, DeepSeek's code "
           "renormalises; released configs set false)");
  c.norm_topk_prob = false;
  const std::string method = r.get_string("topk_method", "greedy");
  if (method == "greedy") {
    c.scoring = RouterScoring::SoftmaxTopK;
    c.n_group = c.topk_group = 1;  // n_group / topk_group are ignored by greedy (V2-Lite writes 1 / 1)
  } else if (method == "group_limited_greedy") {
    c.scoring = RouterScoring::SoftmaxGroupTopK;
    c.n_group = r.get_int("n_group");
    c.topk_group = r.get_int("topk_group");
    check_deepseek_groups(r, c);
  } else {
    r.fail("topk_method '" + method + "' is not supported (deepseek_v2 uses greedy or group_limited_greedy)");
  }
}

}  // namespace moescope::families
