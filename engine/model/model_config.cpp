// config.json -> ModelConfig: dispatch on model_type to engine/model/families/<family>.cpp, then checks
// that hold for every family.
#include "engine/model/model_config.h"

#include <fstream>
#include <sstream>

#include "engine/model/families/family.h"
#include "engine/util/error.h"

namespace moescope {

const char* family_name(Family f) {
  switch (f) {
    case Family::Mixtral: return "mixtral";
    case Family::OLMoE: return "olmoe";
    case Family::Qwen2Moe: return "qwen2_moe";
    case Family::Qwen3Moe: return "qwen3_moe";
    case Family::DeepSeekV2: return "deepseek_v2";
    case Family::DeepSeekV3: return "deepseek_v3";
    case Family::Glm4Moe: return "glm4_moe";
    case Family::Ernie45Moe: return "ernie4_5_moe";
    case Family::GptOss: return "gpt_oss";
    case Family::GraniteMoe: return "granitemoe";
    case Family::Dots1: return "dots1";
    case Family::PhiMoE: return "phimoe";
  }
  return "?";
}

int ModelConfig::num_moe_layers() const {
  int n = 0;
  for (bool m : layer_is_moe) n += m ? 1 : 0;
  return n;
}

std::vector<int> ModelConfig::moe_layer_indices() const {
  std::vector<int> out;
  for (size_t i = 0; i < layer_is_moe.size(); ++i)
    if (layer_is_moe[i]) out.push_back(int(i));
  return out;
}

namespace {

// The FP8 block size [rows, cols] of either quantisation format (`what` names the file and key for messages):
// two positive integers, the columns a multiple of 128 (the engine's scale groups, engine/model/fp8.h).
void read_fp8_block(const nlohmann::json& b, const std::string& what, ModelConfig& c) {
  if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() || !b[1].is_number_integer() ||
      b[0].get<int64_t>() <= 0 || b[1].get<int64_t>() <= 0 || b[0].get<int64_t>() > (1 << 20) ||
      b[1].get<int64_t>() > (1 << 20))
    throw Error(what + " must be two positive integers, got " + b.dump());
  c.fp8_block_rows = int(b[0].get<int64_t>());
  c.fp8_block_cols = int(b[1].get<int64_t>());
  if (c.fp8_block_cols % 128 != 0)
    throw Error(what + " " + b.dump() +
                ": the engine needs blocks of a multiple of 128 columns (released FP8 checkpoints use [128, 128])");
}

// quantization_config of a fine-grained FP8 checkpoint: {"quant_method": "fp8", "fmt": "e4m3",
// "weight_block_size": [128, 128], "activation_scheme": "dynamic"}. The block size says which scale each weight
// uses; only E4M3 is read (E5M2 checkpoints are not released for inference).
void parse_fp8_quantization(const nlohmann::json& q, const std::string& path, ModelConfig& c) {
  const std::string where = path + ": quantization_config";
  if (q.contains("fmt") && !q["fmt"].is_null()) {
    if (!q["fmt"].is_string() || q["fmt"].get<std::string>() != "e4m3")
      throw Error(where + ": \"fmt\" " + q["fmt"].dump() + " is not supported (FP8 weights must be e4m3)");
  }
  if (!q.contains("weight_block_size") || q["weight_block_size"].is_null())
    throw Error(where + ": FP8 without \"weight_block_size\" (per-tensor FP8 scales) is not supported; the engine "
                "reads block-scaled FP8 (weight_scale_inv per block)");
  read_fp8_block(q["weight_block_size"], where + ": \"weight_block_size\"", c);
  c.fp8_method = "fp8";
  c.fp8_strategy = "block";
  c.fp8_activation_scheme = "dynamic";
  if (q.contains("activation_scheme") && !q["activation_scheme"].is_null()) {
    if (!q["activation_scheme"].is_string())
      throw Error(where + ": \"activation_scheme\" must be a string, got " + q["activation_scheme"].dump());
    c.fp8_activation_scheme = q["activation_scheme"].get<std::string>();
  }
}

// quantization_config of llm-compressor's FP8 checkpoints: {"quant_method": "compressed-tensors", "format":
// "float-quantized", "config_groups": {"group_0": {"targets": [...], "weights": {"num_bits": 8, "type": "float",
// "strategy": "channel" | "tensor" | "block", "block_structure": [128, 128]}, "input_activations": {...}}},
// "ignore": [...]}. Which modules a group targets does not matter here: every F8_E4M3 tensor comes with its
// `weight_scale`, and the rest is stored unquantised. Groups of other kinds (4-bit, int) are refused.
void parse_compressed_tensors(const nlohmann::json& q, const std::string& path, ModelConfig& c) {
  const std::string where = path + ": quantization_config (compressed-tensors)";
  if (!q.contains("config_groups") || !q["config_groups"].is_object() || q["config_groups"].empty())
    throw Error(where + ": \"config_groups\" must be a non-empty object");
  std::string strategy, activations = "none";
  nlohmann::json block;
  for (auto g = q["config_groups"].begin(); g != q["config_groups"].end(); ++g) {
    const std::string gw = where + ": group '" + g.key() + "'";
    const auto& w = g.value().is_object() && g.value().contains("weights") ? g.value()["weights"] : nlohmann::json();
    if (!w.is_object()) throw Error(gw + " has no \"weights\" object");
    const auto bits = w.contains("num_bits") && w["num_bits"].is_number_integer() ? w["num_bits"].get<int64_t>() : -1;
    const std::string type = w.contains("type") && w["type"].is_string() ? w["type"].get<std::string>() : "?";
    if (bits != 8 || type != "float")
      throw Error(gw + " quantises weights to " + (bits > 0 ? std::to_string(bits) : std::string("?")) + "-bit " + type +
                  "; the engine reads 8-bit float (FP8) weights only");
    const std::string s = w.contains("strategy") && w["strategy"].is_string() ? w["strategy"].get<std::string>() : "?";
    if (s != "channel" && s != "tensor" && s != "block")
      throw Error(gw + ": weight strategy \"" + s + "\" is not supported (channel, tensor or block)");
    const nlohmann::json bs = w.contains("block_structure") ? w["block_structure"] : nlohmann::json();
    if (!strategy.empty() && (s != strategy || bs != block))
      throw Error(where + ": groups with different weight strategies (" + strategy + ", " + s + ") are not supported");
    strategy = s;
    block = bs;
    const auto& a = g.value().contains("input_activations") ? g.value()["input_activations"] : nlohmann::json();
    if (a.is_object()) activations = a.contains("dynamic") && a["dynamic"] == false ? "static" : "dynamic";
  }
  c.fp8_method = "compressed-tensors";
  c.fp8_strategy = strategy;
  c.fp8_activation_scheme = activations;
  if (strategy == "block") read_fp8_block(block, where + ": \"block_structure\"", c);
}

}  // namespace

ModelConfig parse_model_config(const std::string& json_text, const std::string& path) {
  using families::ConfigReader;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(path + ": not a JSON object");
  const ConfigReader r{j, path};

  ModelConfig c;
  c.config_path = path;
  c.config_text = json_text;
  c.model_type = r.get_string("model_type", "");
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    c.architecture = j["architectures"][0].get<std::string>();
  if (c.model_type.empty()) r.fail("missing \"model_type\"");

  static const struct { const char* type; Family f; void (*parse)(const ConfigReader&, ModelConfig&); } table[] = {
      {"mixtral", Family::Mixtral, families::parse_mixtral},
      {"olmoe", Family::OLMoE, families::parse_olmoe},
      {"qwen2_moe", Family::Qwen2Moe, families::parse_qwen2_moe},
      {"qwen3_moe", Family::Qwen3Moe, families::parse_qwen3_moe},
      {"deepseek_v2", Family::DeepSeekV2, families::parse_deepseek_v2},
      {"deepseek_v3", Family::DeepSeekV3, families::parse_deepseek_v3},
      // Moonshot's Kimi-K2 / Moonlight: DeepseekV3ForCausalLM under its own model_type (Moonshot's deployment guide:
      // engines without kimi_k2 may set model_type to deepseek_v3).
      {"kimi_k2", Family::DeepSeekV3, families::parse_deepseek_v3},
      {"glm4_moe", Family::Glm4Moe, families::parse_glm4_moe},
      {"ernie4_5_moe", Family::Ernie45Moe, families::parse_ernie4_5_moe},
      {"gpt_oss", Family::GptOss, families::parse_gpt_oss},
      {"granitemoe", Family::GraniteMoe, families::parse_granitemoe},
      {"granitemoeshared", Family::GraniteMoe, families::parse_granitemoe},
      {"dots1", Family::Dots1, families::parse_dots1},
      {"phimoe", Family::PhiMoE, families::parse_phimoe},
  };
  bool known = false;
  for (const auto& e : table) {
    if (c.model_type != e.type) continue;
    c.family = e.f;
    e.parse(r, c);
    known = true;
    break;
  }
  if (!known) {
    std::string supported;
    for (const auto& e : table) supported += (supported.empty() ? "" : ", ") + std::string(e.type);
    r.fail("unsupported architecture '" + c.model_type + "' (supported: " + supported + ")");
  }

  // Checks every family shares.
  if (int(c.layer_is_moe.size()) != c.num_layers) r.fail("internal: layer_is_moe does not cover every layer");
  if (c.num_moe_layers() > 0) {
    if (c.num_experts <= 0) r.fail("the number of experts must be positive");
    if (c.num_experts_per_tok <= 0 || c.num_experts_per_tok > c.num_experts)
      r.fail("num_experts_per_tok (" + std::to_string(c.num_experts_per_tok) + ") must be between 1 and the number of experts (" +
             std::to_string(c.num_experts) + ")");
    if (c.moe_intermediate_size <= 0) r.fail("the expert intermediate size must be positive");
  }
  if (c.num_moe_layers() < c.num_layers && c.intermediate_size <= 0)
    r.fail("dense layers need a positive \"intermediate_size\"");
  if (!(c.rope.partial_rotary_factor > 0.0 && c.rope.partial_rotary_factor <= 1.0))
    r.fail("\"partial_rotary_factor\" must be in (0, 1], got " + std::to_string(c.rope.partial_rotary_factor));
  if (j.contains("quantization_config") && !j["quantization_config"].is_null()) {
    std::string method = "unknown";
    const auto& q = j["quantization_config"];
    if (q.is_object() && q.contains("quant_method") && q["quant_method"].is_string()) method = q["quant_method"].get<std::string>();
    // GPT-OSS's MXFP4 experts are dequantized at load (families/gpt_oss.cpp); fine-grained FP8 (DeepSeek-V3,
    // Qwen3-*-FP8, ...) is read by the weight binder (families/common.cpp); anything else is not read.
    if (method == "fp8")
      parse_fp8_quantization(q, path, c);
    else if (method == "compressed-tensors")
      parse_compressed_tensors(q, path, c);
    else if (!(method == "mxfp4" && c.family == Family::GptOss))
      c.warnings.push_back(path + ": quantization_config (\"" + method +
                           "\") present: the engine reads F32/BF16/F16 weights, fine-grained FP8 and GPT-OSS MXFP4 experts "
                           "only; counts assume unquantized tensors");
  }
  return c;
}

ModelConfig load_model_config(const std::string& config_json_path) {
  std::ifstream in(config_json_path);
  if (!in) throw Error(config_json_path + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_model_config(ss.str(), config_json_path);
}

}  // namespace moescope
