// GPT-OSS (GptOssForCausalLM): parsed for `moescope info` (sizes and parameter counts). Its weights
// (MXFP4 experts, interleaved gate/up, attention sinks) are not loaded by this engine yet.
#include "engine/model/families/family.h"
#include "engine/util/error.h"

namespace moescope::families {

void parse_gpt_oss(const ConfigReader& r, ModelConfig& c) {
  parse_common_gqa(r, c);
  c.num_experts = r.get_int_any({"num_local_experts", "num_experts"});
  c.num_experts_per_tok = r.has("num_experts_per_tok") ? r.get_int("num_experts_per_tok") : r.get_int("experts_per_token");
  c.intermediate_size = r.get_int("intermediate_size");
  c.moe_intermediate_size = c.intermediate_size;
  c.scoring = RouterScoring::TopKSoftmax;
  c.router_bias = true;
  c.qkv_bias = c.o_bias = r.get_bool("attention_bias", true);
  c.attention_sinks = true;
  c.swiglu_limit = float(r.get_double("swiglu_limit", 7.0));
  c.sliding_window = r.get_int("sliding_window", 0);
  c.layer_sliding.assign(size_t(c.num_layers), false);
  if (r.has("layer_types")) {
    const json& lt = r.j["layer_types"];
    if (!lt.is_array() || lt.size() != size_t(c.num_layers)) r.fail("\"layer_types\" must list every layer");
    for (size_t i = 0; i < lt.size(); ++i)
      c.layer_sliding[i] = lt[i].is_string() && lt[i].get_ref<const std::string&>() == "sliding_attention";
  } else {
    for (int i = 0; i < c.num_layers; ++i) c.layer_sliding[size_t(i)] = i % 2 == 0;  // GPT-OSS alternates
  }
  c.layer_is_moe.assign(size_t(c.num_layers), true);
}

void bind_gpt_oss(const ModelConfig& c, WeightBinder&, ModelWeights&) {
  throw Error(c.config_path + ": loading gpt_oss weights is not supported yet (moescope info on config.json works; "
              "supported for loading: mixtral, olmoe, qwen2_moe, qwen3_moe, deepseek_v3)");
}

}  // namespace moescope::families
