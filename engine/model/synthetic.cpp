// Synthetic checkpoints: released configs (copied from the models' published config.json, the same
// values as tests/fixtures/configs/), scaling to a memory budget, the tensor list per family and a
// streaming safetensors writer with random bf16 weights.
#include "engine/model/synthetic.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/model/model.h"
#include "engine/util/error.h"

namespace moescope {

namespace {

using json = nlohmann::json;

// Only the keys the loader reads (plus torch_dtype/initializer_range for readers of the config).
const std::map<std::string, const char*>& builtin_configs() {
  static const std::map<std::string, const char*> m = {
      {"olmoe-1b-7b", R"({"architectures":["OlmoeForCausalLM"],"model_type":"olmoe","attention_bias":false,
        "clip_qkv":null,"eos_token_id":50279,"pad_token_id":1,"hidden_act":"silu","hidden_size":2048,
        "initializer_range":0.02,"intermediate_size":1024,"max_position_embeddings":4096,"norm_topk_prob":false,
        "num_attention_heads":16,"num_experts":64,"num_experts_per_tok":8,"num_hidden_layers":16,
        "num_key_value_heads":16,"rms_norm_eps":1e-05,"rope_theta":10000.0,"tie_word_embeddings":false,
        "torch_dtype":"bfloat16","vocab_size":50304})"},
      {"qwen1.5-moe-a2.7b", R"({"architectures":["Qwen2MoeForCausalLM"],"model_type":"qwen2_moe",
        "bos_token_id":151643,"eos_token_id":151643,"decoder_sparse_step":1,"hidden_act":"silu","hidden_size":2048,
        "initializer_range":0.02,"intermediate_size":5632,"max_position_embeddings":8192,"moe_intermediate_size":1408,
        "norm_topk_prob":false,"num_attention_heads":16,"num_experts":60,"num_experts_per_tok":4,
        "num_hidden_layers":24,"num_key_value_heads":16,"rms_norm_eps":1e-06,"rope_theta":1000000.0,
        "shared_expert_intermediate_size":5632,"sliding_window":32768,"use_sliding_window":false,
        "tie_word_embeddings":false,"torch_dtype":"bfloat16","vocab_size":151936})"},
      {"qwen3-30b-a3b", R"({"architectures":["Qwen3MoeForCausalLM"],"model_type":"qwen3_moe","attention_bias":false,
        "bos_token_id":151643,"eos_token_id":151645,"decoder_sparse_step":1,"head_dim":128,"hidden_act":"silu",
        "hidden_size":2048,"initializer_range":0.02,"intermediate_size":6144,"max_position_embeddings":40960,
        "mlp_only_layers":[],"moe_intermediate_size":768,"norm_topk_prob":true,"num_attention_heads":32,
        "num_experts":128,"num_experts_per_tok":8,"num_hidden_layers":48,"num_key_value_heads":4,
        "rms_norm_eps":1e-06,"rope_theta":1000000.0,"sliding_window":null,"use_sliding_window":false,
        "tie_word_embeddings":false,"torch_dtype":"bfloat16","vocab_size":151936})"},
      {"mixtral-8x7b", R"({"architectures":["MixtralForCausalLM"],"model_type":"mixtral","bos_token_id":1,
        "eos_token_id":2,"hidden_act":"silu","hidden_size":4096,"initializer_range":0.02,"intermediate_size":14336,
        "max_position_embeddings":32768,"num_attention_heads":32,"num_experts_per_tok":2,"num_hidden_layers":32,
        "num_key_value_heads":8,"num_local_experts":8,"rms_norm_eps":1e-05,"rope_theta":1000000.0,
        "sliding_window":null,"tie_word_embeddings":false,"torch_dtype":"bfloat16","vocab_size":32000})"},
      {"deepseek-v2-lite", R"({"architectures":["DeepseekV2ForCausalLM"],"model_type":"deepseek_v2",
        "attention_bias":false,"aux_loss_alpha":0.001,"bos_token_id":100000,"eos_token_id":100001,
        "first_k_dense_replace":1,"hidden_act":"silu","hidden_size":2048,"initializer_range":0.02,
        "intermediate_size":10944,"kv_lora_rank":512,"max_position_embeddings":163840,"moe_intermediate_size":1408,
        "moe_layer_freq":1,"n_group":1,"n_routed_experts":64,"n_shared_experts":2,"norm_topk_prob":false,
        "num_attention_heads":16,"num_experts_per_tok":6,"num_hidden_layers":27,"num_key_value_heads":16,
        "q_lora_rank":null,"qk_nope_head_dim":128,"qk_rope_head_dim":64,"rms_norm_eps":1e-06,
        "rope_scaling":{"beta_fast":32,"beta_slow":1,"factor":40,"mscale":0.707,"mscale_all_dim":0.707,
        "original_max_position_embeddings":4096,"type":"yarn"},"rope_theta":10000,"routed_scaling_factor":1.0,
        "scoring_func":"softmax","tie_word_embeddings":false,"topk_group":1,"topk_method":"greedy",
        "torch_dtype":"bfloat16","v_head_dim":128,"vocab_size":102400})"},
      {"deepseek-v2", R"({"architectures":["DeepseekV2ForCausalLM"],"model_type":"deepseek_v2",
        "attention_bias":false,"bos_token_id":100000,"eos_token_id":100001,"first_k_dense_replace":1,
        "hidden_act":"silu","hidden_size":5120,"initializer_range":0.02,"intermediate_size":12288,
        "kv_lora_rank":512,"max_position_embeddings":163840,"moe_intermediate_size":1536,"moe_layer_freq":1,
        "n_group":8,"n_routed_experts":160,"n_shared_experts":2,"norm_topk_prob":false,"num_attention_heads":128,
        "num_experts_per_tok":6,"num_hidden_layers":60,"num_key_value_heads":128,"q_lora_rank":1536,
        "qk_nope_head_dim":128,"qk_rope_head_dim":64,"rms_norm_eps":1e-06,"rope_scaling":{"beta_fast":32,
        "beta_slow":1,"factor":40,"mscale":0.707,"mscale_all_dim":0.707,"original_max_position_embeddings":4096,
        "type":"yarn"},"rope_theta":10000,"routed_scaling_factor":16.0,"scoring_func":"softmax",
        "tie_word_embeddings":false,"topk_group":3,"topk_method":"group_limited_greedy","torch_dtype":"bfloat16",
        "v_head_dim":128,"vocab_size":102400})"},
      {"deepseek-v3", R"({"architectures":["DeepseekV3ForCausalLM"],"model_type":"deepseek_v3","attention_bias":false,
        "bos_token_id":0,"eos_token_id":1,"first_k_dense_replace":3,"hidden_act":"silu","hidden_size":7168,
        "initializer_range":0.02,"intermediate_size":18432,"kv_lora_rank":512,"max_position_embeddings":163840,
        "moe_intermediate_size":2048,"moe_layer_freq":1,"n_group":8,"n_routed_experts":256,"n_shared_experts":1,
        "norm_topk_prob":true,"num_attention_heads":128,"num_experts_per_tok":8,"num_hidden_layers":61,
        "num_key_value_heads":128,"num_nextn_predict_layers":1,"q_lora_rank":1536,"qk_nope_head_dim":128,
        "qk_rope_head_dim":64,"rms_norm_eps":1e-06,"rope_scaling":{"beta_fast":32,"beta_slow":1,"factor":40,
        "mscale":1.0,"mscale_all_dim":1.0,"original_max_position_embeddings":4096,"type":"yarn"},
        "rope_theta":10000,"routed_scaling_factor":2.5,"scoring_func":"sigmoid","tie_word_embeddings":false,
        "topk_group":4,"topk_method":"noaux_tc","torch_dtype":"bfloat16","v_head_dim":128,"vocab_size":129280})"},
      {"glm-4.5-air", R"({"architectures":["Glm4MoeForCausalLM"],"model_type":"glm4_moe","attention_bias":true,
        "pad_token_id":151329,"eos_token_id":[151329,151336,151338],"first_k_dense_replace":1,"head_dim":128,
        "hidden_act":"silu","hidden_size":4096,"initializer_range":0.02,"intermediate_size":10944,
        "max_position_embeddings":131072,"moe_intermediate_size":1408,"n_group":1,"n_routed_experts":128,
        "n_shared_experts":1,"norm_topk_prob":true,"num_attention_heads":96,"num_experts_per_tok":8,
        "num_hidden_layers":46,"num_key_value_heads":8,"num_nextn_predict_layers":1,"partial_rotary_factor":0.5,
        "rms_norm_eps":1e-05,"rope_theta":1000000,"routed_scaling_factor":1.0,"tie_word_embeddings":false,
        "topk_group":1,"torch_dtype":"bfloat16","use_qk_norm":false,"vocab_size":151552})"},
      {"ernie-4.5-21b-a3b", R"({"architectures":["Ernie4_5_MoeForCausalLM"],"model_type":"ernie4_5_moe",
        "bos_token_id":1,"eos_token_id":2,"pad_token_id":0,"head_dim":128,"hidden_act":"silu","hidden_size":2560,
        "initializer_range":0.02,"intermediate_size":12288,"max_position_embeddings":131072,
        "moe_intermediate_size":1536,"moe_k":6,"moe_layer_end_index":27,"moe_layer_interval":1,
        "moe_layer_start_index":1,"moe_norm_min":1e-12,"moe_num_experts":64,"moe_num_shared_experts":2,
        "num_attention_heads":20,"num_hidden_layers":28,"num_key_value_heads":4,"rms_norm_eps":1e-05,
        "rope_theta":500000,"tie_word_embeddings":true,"torch_dtype":"bfloat16","use_bias":false,
        "vocab_size":103424})"},
      {"granite-3.1-1b-a400m", R"({"architectures":["GraniteMoeForCausalLM"],"model_type":"granitemoe","attention_bias":false,
        "attention_dropout":0.0,"attention_multiplier":0.015625,"bos_token_id":0,"embedding_multiplier":12.0,
        "eos_token_id":0,"hidden_act":"silu","hidden_size":1024,"initializer_range":0.02,"intermediate_size":512,
        "logits_scaling":6.0,"max_position_embeddings":131072,"num_attention_heads":16,"num_experts_per_tok":8,
        "num_hidden_layers":24,"num_key_value_heads":8,"num_local_experts":32,"output_router_logits":false,
        "pad_token_id":0,"residual_multiplier":0.22,"rms_norm_eps":1e-06,"rope_scaling":null,
        "rope_theta":1500000.0,"router_aux_loss_coef":0.0,"tie_word_embeddings":true,"torch_dtype":"bfloat16",
        "transformers_version":"4.47.0","use_cache":true,"vocab_size":49155})"},
      {"gpt-oss-20b", R"({"architectures":["GptOssForCausalLM"],"model_type":"gpt_oss","attention_bias":true,
        "eos_token_id":200002,"pad_token_id":199999,"experts_per_token":4,"head_dim":64,"hidden_act":"silu",
        "hidden_size":2880,"initial_context_length":4096,"initializer_range":0.02,"intermediate_size":2880,
        "max_position_embeddings":131072,"num_attention_heads":64,"num_experts_per_tok":4,"num_hidden_layers":24,
        "num_key_value_heads":8,"num_local_experts":32,"quantization_config":{"modules_to_not_convert":[
        "model.layers.*.self_attn","model.layers.*.mlp.router","model.embed_tokens","lm_head"],"quant_method":"mxfp4"},
        "rms_norm_eps":1e-05,"rope_scaling":{"beta_fast":32.0,"beta_slow":1.0,"factor":32.0,
        "original_max_position_embeddings":4096,"rope_type":"yarn","truncate":false},"rope_theta":150000,
        "sliding_window":128,"swiglu_limit":7.0,"tie_word_embeddings":false,"torch_dtype":"bfloat16",
        "vocab_size":201088})"},
  };
  return m;
}

const char* experts_key(const json& j) {
  for (const char* k : {"num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts"})
    if (j.contains(k) && j[k].is_number_integer()) return k;
  return nullptr;
}

// Expert matrices written as MXFP4 (GPT-OSS as released): the rest is bf16.
bool mxfp4_experts(const ModelConfig& c, const SyntheticOptions& o) { return c.family == Family::GptOss && o.gpt_oss_mxfp4; }

// Bytes of one tensor as written.
uint64_t tensor_bytes(const SyntheticTensor& t) {
  uint64_t n = 1;
  for (auto d : t.shape) n *= uint64_t(d);
  switch (t.kind) {
    case SyntheticTensor::Mxfp4Blocks: case SyntheticTensor::Mxfp4Scales: case SyntheticTensor::Fp8Codes: return n;
    case SyntheticTensor::Fp8Scales: return 4 * n;
    default: return 2 * n;
  }
}
const char* tensor_dtype(const SyntheticTensor& t) {
  switch (t.kind) {
    case SyntheticTensor::Mxfp4Blocks: case SyntheticTensor::Mxfp4Scales: return "U8";
    case SyntheticTensor::Fp8Codes: return "F8_E4M3";
    case SyntheticTensor::Fp8Scales: return "F32";
    default: return "BF16";
  }
}

// float -> E4M3 ("fn"), round to nearest even, saturating at 448. The codes of one sign grow with the value and
// are evenly spaced within a binade, so the code is the exponent field times 8 plus the rounded mantissa (a
// mantissa that rounds up to 8 carries into the next binade, as it should).
uint8_t to_e4m3(float x) {
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  const float m = std::fabs(x);
  if (!(m < 448.0f)) return uint8_t(sign | 0x7E);
  int code;
  if (m < 0.015625f) {  // below 2^-6: subnormals, steps of 2^-9
    code = int(std::nearbyint(m * 512.0f));
  } else {
    int e;
    const float f = std::frexp(m, &e);  // m = f * 2^e, f in [0.5, 1)
    code = ((e - 1 + 7) << 3) + int(std::nearbyint((2.0f * f - 1.0f) * 8.0f));
  }
  return uint8_t(sign | std::min(code, 0x7E));
}

uint64_t weight_bytes(const ModelConfig& c, bool mxfp4, bool fp8 = false) {
  if (fp8) {
    uint64_t sum = 0;
    for (const auto& t : synthetic_tensors(c, mxfp4, true)) sum += tensor_bytes(t);
    return sum;
  }
  const uint64_t total = uint64_t(std::llround(count_parameters(c).total));
  if (!mxfp4) return total * 2;
  const uint64_t expert = uint64_t(c.num_moe_layers()) * uint64_t(c.num_experts) * 3 * uint64_t(c.hidden_size) *
                          uint64_t(c.moe_intermediate_size);
  return (total - expert) * 2 + expert / 32 * 17;
}

// Sets num_hidden_layers to `layers`, keeping one dense layer first when the original had a dense prefix
// (DeepSeek first_k_dense_replace), dropping Qwen mlp_only_layers indices that no longer exist and cutting
// GPT-OSS layer_types to the layers kept.
void set_layers(json& j, int layers, int original) {
  j["num_hidden_layers"] = layers;
  if (j.contains("first_k_dense_replace") && j["first_k_dense_replace"].is_number_integer()) {
    const int fk = j["first_k_dense_replace"].get<int>();
    if (layers < original && fk > 0) j["first_k_dense_replace"] = layers >= 2 ? 1 : 0;
  }
  if (j.contains("layer_types") && j["layer_types"].is_array() && int(j["layer_types"].size()) > layers) {
    json kept = json::array();  // GPT-OSS: the first `layers` entries (the alternation starts the same)
    for (int i = 0; i < layers; ++i) kept.push_back(j["layer_types"][size_t(i)]);
    j["layer_types"] = kept;
  }
  if (j.contains("mlp_only_layers") && j["mlp_only_layers"].is_array()) {
    json kept = json::array();
    for (const auto& x : j["mlp_only_layers"])
      if (x.is_number_integer() && x.get<int>() < layers) kept.push_back(x);
    j["mlp_only_layers"] = kept;
  }
}

}  // namespace

std::vector<std::string> synthetic_names() {
  std::vector<std::string> names;
  for (const auto& [k, v] : builtin_configs()) names.push_back(k);
  return names;
}

std::string synthetic_config_json(const std::string& name) {
  auto it = builtin_configs().find(name);
  if (it == builtin_configs().end()) {
    std::string list;
    for (const auto& n : synthetic_names()) list += (list.empty() ? "" : ", ") + n;
    throw Error("unknown synthetic model '" + name + "' (built-in: " + list + "; or give a path to a config.json)");
  }
  return it->second;
}

SyntheticPlan plan_synthetic(const std::string& name_or_config, const SyntheticOptions& opts) {
  SyntheticPlan plan;
  plan.source = name_or_config;
  std::string text;
  std::string where = name_or_config;
  if (builtin_configs().count(name_or_config)) {
    text = synthetic_config_json(name_or_config);
    where = "synthetic:" + name_or_config;
  } else if (name_or_config.find('/') != std::string::npos ||
             (name_or_config.size() > 5 && name_or_config.substr(name_or_config.size() - 5) == ".json")) {
    std::ifstream in(name_or_config);
    if (!in) throw Error(name_or_config + ": cannot read the config file");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  } else {
    synthetic_config_json(name_or_config);  // throws with the list of names
  }
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(where + ": not a JSON object");
  const ModelConfig parsed = parse_model_config(j.dump(), where);  // validates before any scaling
  const bool mxfp4 = mxfp4_experts(parsed, opts);
  const bool fp8 = opts.fp8;
  if (fp8 && parsed.family == Family::GptOss)
    throw Error(where + ": GPT-OSS is released with MXFP4 experts, not FP8 (its expert format is chosen separately)");
  if (fp8 && parsed.family == Family::GraniteMoe)
    throw Error(where + ": Granite MoE keeps its experts in fused 3-D tensors, which the FP8 format (2-D matrices with a "
                        "block scale grid) does not cover; use --weight-format bf16");
  if (!mxfp4) j.erase("quantization_config");  // weights are written as bf16 (or FP8, below)
  if (fp8)
    j["quantization_config"] = {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"activation_scheme", "dynamic"},
                                {"weight_block_size", {128, 128}}};
  j["torch_dtype"] = "bfloat16";

  auto scale = [&](const std::string& key, int64_t to) {
    const int64_t from = j[key].get<int64_t>();
    if (from == to) return;
    for (auto& s : plan.scaled)
      if (s.key == key) {
        s.to = to;
        j[key] = to;
        return;
      }
    plan.scaled.push_back({key, from, to});
    j[key] = to;
  };
  auto bf16_bytes = [mxfp4, fp8](const ModelConfig& c) { return weight_bytes(c, mxfp4, fp8); };
  auto bytes_now = [&] { return bf16_bytes(parse_model_config(j.dump(), where)); };
  const double budget = opts.max_weight_bytes;
  const int orig_layers = j.value("num_hidden_layers", 0);

  // 1. Vocabulary: only when the embeddings alone would take half the budget (DeepSeek-V3).
  if (opts.vocab > 0) {
    scale("vocab_size", opts.vocab);
  } else {
    const ModelConfig c = parse_model_config(j.dump(), where);
    const double emb = double(c.vocab_size) * c.hidden_size * 2 * (c.tie_word_embeddings ? 1 : 2);
    if (emb > budget / 2 && c.vocab_size > 32768) scale("vocab_size", 32768);
  }
  const char* ek = experts_key(j);
  if (opts.experts > 0) {
    if (!ek) throw Error(where + ": --experts given but the config names no expert count");
    scale(ek, opts.experts);
  }
  // 2. Layers: as many as fit (at least two when the model has a dense prefix, so both kinds appear).
  if (opts.layers > 0) {
    set_layers(j, opts.layers, orig_layers);
    if (opts.layers != orig_layers) plan.scaled.push_back({"num_hidden_layers", orig_layers, opts.layers});
  } else if (double(bytes_now()) > budget) {
    const bool dense_prefix = j.value("first_k_dense_replace", 0) > 0;
    const int min_layers = std::min(orig_layers, dense_prefix ? 2 : 1);
    int fit = min_layers;
    for (int l = orig_layers; l >= min_layers; --l) {
      json t = j;
      set_layers(t, l, orig_layers);
      if (double(bf16_bytes(parse_model_config(t.dump(), where))) <= budget) {
        fit = l;
        break;
      }
    }
    set_layers(j, fit, orig_layers);
    plan.scaled.push_back({"num_hidden_layers", orig_layers, fit});
    // 3. Experts: only when even the smallest layer count does not fit (DeepSeek-V3, 256 experts).
    if (double(bytes_now()) > budget && ek && opts.experts <= 0) {
      const int e0 = j[ek].get<int>();
      const int group = std::max(1, j.value("n_group", 1));
      const int k = j.value("num_experts_per_tok", j.value("moe_k", 1));
      const int topk_group = std::max(1, j.value("topk_group", 1));
      int e = e0;
      while (e > group) {
        e -= group;
        if ((e / group) * topk_group < k) {  // group-limited top-k must still find k experts
          e += group;
          break;
        }
        json t = j;
        t[ek] = e;
        if (double(bf16_bytes(parse_model_config(t.dump(), where))) <= budget) break;
      }
      scale(ek, e);
    }
  }
  plan.config_json = j.dump(2);
  plan.config = parse_model_config(plan.config_json, where);
  plan.weight_bytes = bf16_bytes(plan.config);
  plan.mxfp4_experts = mxfp4;
  plan.fp8 = fp8;
  if (double(plan.weight_bytes) > budget && opts.layers <= 0 && opts.experts <= 0 && opts.vocab <= 0)
    throw Error(where + ": even the scaled model needs " + std::to_string(plan.weight_bytes >> 20) +
                " MiB of weights, over the budget; give --layers/--experts explicitly");
  return plan;
}

std::vector<SyntheticTensor> synthetic_tensors(const ModelConfig& c, bool mxfp4, bool fp8) {
  std::vector<SyntheticTensor> out;
  using K = SyntheticTensor::Kind;
  auto add = [&](std::string name, std::vector<int64_t> shape, K kind = K::Matrix) {
    out.push_back({std::move(name), std::move(shape), kind});
  };
  const int64_t H = c.hidden_size, V = c.vocab_size;
  add("model.embed_tokens.weight", {V, H}, K::Embedding);
  add("model.norm.weight", {H}, K::Norm);
  if (c.layer_norm) add("model.norm.bias", {H}, K::Bias);
  if (!c.tie_word_embeddings) add("lm_head.weight", {V, H});
  if (c.lm_head_bias) add("lm_head.bias", {V}, K::Bias);
  const bool mixtral = c.family == Family::Mixtral || c.family == Family::PhiMoE;  // block_sparse_moe, w1/w3/w2
  auto ffn = [&](const std::string& p, int64_t I, bool mixtral_names) {
    add(p + (mixtral_names ? "w1.weight" : "gate_proj.weight"), {I, H});
    add(p + (mixtral_names ? "w3.weight" : "up_proj.weight"), {I, H});
    add(p + (mixtral_names ? "w2.weight" : "down_proj.weight"), {H, I});
  };
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {H}, K::Norm);
    add(p + "post_attention_layernorm.weight", {H}, K::Norm);
    if (c.layer_norm) {
      add(p + "input_layernorm.bias", {H}, K::Bias);
      add(p + "post_attention_layernorm.bias", {H}, K::Bias);
    }
    const std::string s = p + "self_attn.";
    if (c.attention == AttentionKind::MLA) {
      const int64_t qk = c.qk_nope_head_dim + c.qk_rope_head_dim;
      if (c.q_lora_rank > 0) {
        add(s + "q_a_proj.weight", {c.q_lora_rank, H});
        add(s + "q_a_layernorm.weight", {c.q_lora_rank}, K::Norm);
        add(s + "q_b_proj.weight", {int64_t(c.num_heads) * qk, c.q_lora_rank});
      } else {
        add(s + "q_proj.weight", {int64_t(c.num_heads) * qk, H});
      }
      add(s + "kv_a_proj_with_mqa.weight", {c.kv_lora_rank + c.qk_rope_head_dim, H});
      add(s + "kv_a_layernorm.weight", {c.kv_lora_rank}, K::Norm);
      add(s + "kv_b_proj.weight", {int64_t(c.num_heads) * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank});
      add(s + "o_proj.weight", {H, int64_t(c.num_heads) * c.v_head_dim});
    } else {
      const int64_t Q = int64_t(c.num_heads) * c.head_dim, KV = int64_t(c.num_kv_heads) * c.head_dim;
      add(s + "q_proj.weight", {Q, H});
      add(s + "k_proj.weight", {KV, H});
      add(s + "v_proj.weight", {KV, H});
      add(s + "o_proj.weight", {H, Q});
      if (c.qkv_bias) {
        add(s + "q_proj.bias", {Q}, K::Bias);
        add(s + "k_proj.bias", {KV}, K::Bias);
        add(s + "v_proj.bias", {KV}, K::Bias);
      }
      if (c.o_bias) add(s + "o_proj.bias", {H}, K::Bias);
      if (c.qk_norm_full) {
        add(s + "q_norm.weight", {Q}, K::Norm);
        add(s + "k_norm.weight", {KV}, K::Norm);
      }
      if (c.qk_norm_per_head) {
        add(s + "q_norm.weight", {c.head_dim}, K::Norm);
        add(s + "k_norm.weight", {c.head_dim}, K::Norm);
      }
    }
    const bool moe = i < int(c.layer_is_moe.size()) ? bool(c.layer_is_moe[size_t(i)]) : true;
    const std::string m = p + (mixtral ? "block_sparse_moe." : "mlp.");
    if (!moe) {
      ffn(m, c.intermediate_size, false);
      continue;
    }
    const int64_t E = c.num_experts;
    if (c.family == Family::GptOss) {  // as released (MXFP4) or as save_pretrained writes it (bf16)
      const int64_t I = c.moe_intermediate_size;
      add(m + "router.weight", {E, H});
      add(m + "router.bias", {E}, K::Bias);
      add(s + "sinks", {c.num_heads}, K::Bias);
      if (mxfp4) {
        add(m + "experts.gate_up_proj_blocks", {E, 2 * I, H / 32, 16}, K::Mxfp4Blocks);
        add(m + "experts.gate_up_proj_scales", {E, 2 * I, H / 32}, K::Mxfp4Scales);
        add(m + "experts.down_proj_blocks", {E, H, I / 32, 16}, K::Mxfp4Blocks);
        add(m + "experts.down_proj_scales", {E, H, I / 32}, K::Mxfp4Scales);
      } else {
        add(m + "experts.gate_up_proj", {E, H, 2 * I});
        add(m + "experts.down_proj", {E, I, H});
      }
      add(m + "experts.gate_up_proj_bias", {E, 2 * I}, K::Bias);
      add(m + "experts.down_proj_bias", {E, H}, K::Bias);
      continue;
    }
    if (c.family == Family::GraniteMoe) {  // the released (legacy) names, fused experts
      const int64_t I = c.moe_intermediate_size;
      const std::string g = p + "block_sparse_moe.";
      add(g + "router.layer.weight", {E, H});
      add(g + "input_linear.weight", {E, 2 * I, H});
      add(g + "output_linear.weight", {E, H, I});
      if (c.shared_intermediate_size > 0) {
        add(p + "shared_mlp.input_linear.weight", {2 * int64_t(c.shared_intermediate_size), H});
        add(p + "shared_mlp.output_linear.weight", {H, c.shared_intermediate_size});
      }
      continue;
    }
    add(m + "gate.weight", {E, H});
    if (c.score_correction_bias && c.family == Family::Ernie45Moe)
      add(m + "moe_statics.e_score_correction_bias", {1, E}, K::Bias);
    else if (c.score_correction_bias)
      add(m + "gate.e_score_correction_bias", {E}, K::Bias);
    for (int e = 0; e < c.num_experts; ++e) ffn(m + "experts." + std::to_string(e) + ".", c.moe_intermediate_size, mixtral);
    if (c.num_shared_experts > 0 && c.shared_intermediate_size > 0) {
      if (c.family == Family::DeepSeekV2 || c.family == Family::DeepSeekV3 || c.family == Family::Glm4Moe ||
          c.family == Family::Dots1 ||
          c.family == Family::Ernie45Moe) {
        ffn(m + "shared_experts.", c.shared_intermediate_size, false);
      } else {
        ffn(m + "shared_expert.", c.shared_intermediate_size, false);
        if (c.shared_expert_gate) add(m + "shared_expert_gate.weight", {1, H});
      }
    }
  }
  if (!fp8) return out;
  // As the FP8 releases are written: every attention and MLP matrix in FP8 with its scale grid; the router
  // (mlp.gate, Mixtral's block_sparse_moe.gate, Qwen2's shared_expert_gate), embeddings and lm_head stay bf16.
  auto ends_with = [](const std::string& s, const std::string& x) {
    return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  std::vector<SyntheticTensor> fp8_out;
  for (auto& t : out) {
    const bool quantize = t.kind == K::Matrix && t.shape.size() == 2 && t.name != "lm_head.weight" &&
                          !ends_with(t.name, "mlp.gate.weight") && !ends_with(t.name, "block_sparse_moe.gate.weight") &&
                          !ends_with(t.name, "router.layer.weight") &&
                          !ends_with(t.name, "shared_expert_gate.weight");
    if (!quantize) {
      fp8_out.push_back(std::move(t));
      continue;
    }
    const std::vector<int64_t> grid{(t.shape[0] + 127) / 128, (t.shape[1] + 127) / 128};
    const std::string scale_name = t.name + "_scale_inv";
    t.kind = K::Fp8Codes;
    fp8_out.push_back(std::move(t));
    fp8_out.push_back({scale_name, grid, K::Fp8Scales});
  }
  return fp8_out;
}

void write_synthetic_checkpoint(const SyntheticPlan& plan, const std::string& dir, uint64_t seed) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create the directory (" + ec.message() + ")");
  {
    std::ofstream cfg(dir + "/config.json");
    cfg << plan.config_json << "\n";
    if (!cfg) throw Error(dir + "/config.json: cannot write");
  }
  const auto tensors = synthetic_tensors(plan.config, plan.mxfp4_experts, plan.fp8);
  auto is_u8 = [](const SyntheticTensor& t) {
    return t.kind == SyntheticTensor::Mxfp4Blocks || t.kind == SyntheticTensor::Mxfp4Scales;
  };
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    const uint64_t bytes = tensor_bytes(t);
    header[t.name] = {{"dtype", tensor_dtype(t)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  header["__metadata__"] = {{"format", "pt"}, {"moescope_synthetic", plan.source}};
  std::string htext = header.dump();
  while ((htext.size() + 8) % 8) htext.push_back(' ');

  const std::string path = dir + "/model.safetensors";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw Error(path + ": cannot create");
  auto put = [&](const void* p, size_t n) {
    if (std::fwrite(p, 1, n, f) != n) {
      std::fclose(f);
      throw Error(path + ": write failed (disk full?)");
    }
  };
  const uint64_t hlen = htext.size();
  put(&hlen, 8);
  put(htext.data(), htext.size());

  // Uniform in [-a, a] with the std of initializer_range (what HF's init gives the projections), so
  // activations keep a realistic scale through the layers; norms are 1 as at initialisation.
  // Token embeddings get std 1, not initializer_range: at 0.02 the embedding is small next to what the first
  // attention adds, and that is nearly the same vector for every token (with random weights each position
  // averages the values of its prefix), so every token chose the same experts, as no trained model does
  // (OLMoE shapes, 512 tokens: one expert got 493 of them, max/mean load 7.7 of a possible 8). With std 1 the
  // token's own embedding dominates and the router spreads the tokens as a trained, load-balanced router does
  // (128 tokens: all 64 experts used, max/mean 1.8-2.0). The expert batch sizes decide the cost of a prefill,
  // so a benchmark on degenerate routing would measure a different workload.
  const json j = json::parse(plan.config_json);
  const float stdev = float(j.value("initializer_range", 0.02));
  const float a = stdev * std::sqrt(3.0f);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  std::vector<uint16_t> buf(size_t(1) << 22);  // 8 MiB chunks
  for (const auto& t : tensors) {
    uint64_t n = 1;
    for (auto d : t.shape) n *= uint64_t(d);
    if (is_u8(t)) {
      // MXFP4: uniform random codes (rms value 2.93) with scale 2^-7, so weights have about initializer_range's std
      // (0.023); bytes written two bf16 slots at a time.
      const int scale = 127 + int(std::lround(std::log2(stdev / 2.93)));
      while (n > 0) {
        const size_t m = size_t(std::min<uint64_t>(n, buf.size() * 2));
        auto* bytes = reinterpret_cast<uint8_t*>(buf.data());
        for (size_t i = 0; i < m; ++i) {
          if (t.kind == SyntheticTensor::Mxfp4Scales) {
            bytes[i] = uint8_t(std::clamp(scale, 0, 254));
            continue;
          }
          s ^= s << 13;
          s ^= s >> 7;
          s ^= s << 17;
          bytes[i] = uint8_t(s >> 40);
        }
        put(bytes, m);
        n -= m;
      }
      continue;
    }
    if (t.kind == SyntheticTensor::Fp8Scales) {  // every block: a / 448, so the codes span the E4M3 range
      const float sc = a / 448.0f;
      for (uint64_t i = 0; i < n; ++i) put(&sc, 4);
      continue;
    }
    if (t.kind == SyntheticTensor::Fp8Codes) {  // the same uniform weights as bf16, as E4M3 codes of v / (a / 448)
      auto* bytes = reinterpret_cast<uint8_t*>(buf.data());
      while (n > 0) {
        const size_t m = size_t(std::min<uint64_t>(n, buf.size() * 2));
        for (size_t i = 0; i < m; ++i) {
          s ^= s << 13;
          s ^= s >> 7;
          s ^= s << 17;
          const float u = float(uint32_t(s >> 40)) * (1.0f / 16777216.0f);  // [0, 1)
          bytes[i] = to_e4m3((2.0f * u - 1.0f) * 448.0f);
        }
        put(bytes, m);
        n -= m;
      }
      continue;
    }
    while (n > 0) {
      const size_t m = size_t(std::min<uint64_t>(n, buf.size()));
      if (t.kind == SyntheticTensor::Norm) {
        std::fill(buf.begin(), buf.begin() + m, uint16_t(0x3F80));  // 1.0
      } else {
        const float amp = t.kind == SyntheticTensor::Bias        ? a * 0.1f
                          : t.kind == SyntheticTensor::Embedding ? std::sqrt(3.0f)
                                                                 : a;
        for (size_t i = 0; i < m; ++i) {
          s ^= s << 13;
          s ^= s >> 7;
          s ^= s << 17;
          const float u = float(uint32_t(s >> 40)) * (1.0f / 16777216.0f);  // [0, 1)
          const float v = (2.0f * u - 1.0f) * amp;
          uint32_t bits;
          std::memcpy(&bits, &v, 4);
          buf[i] = uint16_t((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);  // round to nearest even
        }
      }
      put(buf.data(), m * 2);
      n -= m;
    }
  }
  if (std::fclose(f) != 0) throw Error(path + ": write failed");
}

}  // namespace moescope
