// `moescope info MODEL|config.json`: a JSON summary of a checkpoint (loaded and checked: dtypes, files,
// parameters counted from the tensors) or of a bare config.json (architecture and parameter counts).
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "app/cli/cli.h"
#include "engine/checkpoint/weight_store.h"
#include "engine/model/model.h"
#include "engine/util/error.h"

namespace moescope::cli {

namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

const char* scoring_name(RouterScoring s) {
  switch (s) {
    case RouterScoring::SoftmaxTopK: return "softmax_topk";
    case RouterScoring::SoftmaxGroupTopK: return "softmax_group_topk";
    case RouterScoring::SigmoidGroupTopK: return "sigmoid_group_topk";
    case RouterScoring::TopKSoftmax: return "topk_softmax";
    case RouterScoring::SparseMixer: return "sparsemixer";
  }
  return "?";
}

// A float as the shortest decimal that reads back as it (0.22f prints 0.22, not 0.2199999988).
double shortest(float v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
}

ojson describe(const ModelConfig& c) {
  ojson j;
  j["family"] = family_name(c.family);
  j["architecture"] = c.architecture;
  j["layers"] = c.num_layers;
  j["moe_layers"] = c.moe_layer_indices();
  std::vector<int> dense;
  for (int i = 0; i < c.num_layers; ++i)
    if (!c.layer_is_moe[size_t(i)]) dense.push_back(i);
  j["dense_layers"] = dense;
  j["experts"] = c.num_experts;
  j["experts_per_token"] = c.num_experts_per_tok;
  j["shared_experts"] = c.num_shared_experts;
  j["hidden_size"] = c.hidden_size;
  j["vocab_size"] = c.vocab_size;
  j["head_dim"] = c.head_dim;
  j["intermediate_size"] = c.intermediate_size;
  j["moe_intermediate_size"] = c.moe_intermediate_size;
  if (c.shared_intermediate_size) j["shared_intermediate_size"] = c.shared_intermediate_size;
  ojson a;
  a["kind"] = c.attention == AttentionKind::MLA ? "mla" : "gqa";
  a["heads"] = c.num_heads;
  a["kv_heads"] = c.num_kv_heads;
  if (c.attention == AttentionKind::MLA) {
    a["q_lora_rank"] = c.q_lora_rank;
    a["kv_lora_rank"] = c.kv_lora_rank;
    a["qk_nope_head_dim"] = c.qk_nope_head_dim;
    a["qk_rope_head_dim"] = c.qk_rope_head_dim;
    a["v_head_dim"] = c.v_head_dim;
  }
  if (c.sliding_window) a["sliding_window"] = c.sliding_window;
  if (c.sliding_window && !c.layer_sliding.empty()) {
    ojson sl = ojson::array();
    for (int i = 0; i < c.num_layers; ++i)
      if (c.layer_sliding[size_t(i)]) sl.push_back(i);
    a["sliding_window_layers"] = sl;
  }
  if (c.attention_sinks) a["sinks"] = true;
  if (c.qkv_bias || c.o_bias) a["bias"] = c.o_bias ? "qkvo" : "qkv";
  if (c.qk_norm_per_head || c.qk_norm_full) a["qk_norm"] = c.qk_norm_per_head ? "per_head" : "full";
  j["attention"] = a;
  if (c.swiglu_limit > 0) j["swiglu_limit"] = c.swiglu_limit;
  j["context_length"] = c.max_position_embeddings;
  ojson rope;
  rope["type"] = c.rope.type;
  rope["theta"] = c.rope.theta;
  if (c.rope.type != "default" && c.rope.type != "longrope") rope["factor"] = c.rope.factor;
  if (c.rope.type == "longrope") {  // the engine runs the short factors only: its context stops at the original length
    rope["original_max_position_embeddings"] = int64_t(c.rope.original_max_position);
    if (c.rope.short_mscale > 0) rope["short_mscale"] = c.rope.short_mscale;
    rope["context_limit"] = int64_t(c.rope.original_max_position);
  }
  if (c.rope.type == "yarn") {
    rope["original_max_position_embeddings"] = c.rope.original_max_position;
    if (c.rope.mscale != 1.0) rope["mscale"] = c.rope.mscale;
    if (c.rope.mscale_all_dim != 0.0) rope["mscale_all_dim"] = c.rope.mscale_all_dim;
  }
  if (c.rope.interleaved) rope["interleaved"] = true;
  if (c.rope.partial_rotary_factor != 1.0) rope["partial_rotary_factor"] = c.rope.partial_rotary_factor;
  j["rope"] = rope;
  ojson r;
  r["scoring"] = scoring_name(c.scoring);
  r["norm_topk_prob"] = c.norm_topk_prob;
  if (c.router_bias) r["bias"] = true;
  if (c.scoring == RouterScoring::SigmoidGroupTopK || c.scoring == RouterScoring::SoftmaxGroupTopK) {
    r["n_group"] = c.n_group;
    r["topk_group"] = c.topk_group;
  }
  if (c.score_correction_bias) r["correction_bias"] = true;
  if (c.scoring == RouterScoring::SparseMixer) r["jitter_eps"] = shortest(c.router_jitter_noise);
  if (c.routed_scaling_factor != 1.0f || c.family == Family::DeepSeekV2 || c.family == Family::DeepSeekV3 ||
      c.family == Family::Glm4Moe || c.family == Family::Dots1)
    r["routed_scaling_factor"] = c.routed_scaling_factor;
  j["router"] = r;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.layer_norm) j["norm"] = "layernorm";
  if (c.lm_head_bias) j["lm_head_bias"] = true;
  if (c.family == Family::GraniteMoe)  // the scalars that make Granite's numbers what they are
    j["multipliers"] = {{"embedding", shortest(c.embedding_multiplier)},
                        {"attention", shortest(c.attention_multiplier)},
                        {"residual", shortest(c.residual_multiplier)},
                        {"logits_scaling", shortest(c.logits_scaling)}};
  if (!c.fp8_method.empty()) {  // FP8 checkpoint: how its weights are stored (engine/model/fp8.h)
    ojson q = {{"method", c.fp8_method}, {"format", "e4m3"}, {"scales", c.fp8_strategy}};
    if (c.fp8_strategy == "block") q["weight_block_size"] = {c.fp8_block_rows, c.fp8_block_cols};
    q["activation_scheme"] = c.fp8_activation_scheme;
    j["quantization"] = q;
  }
  const ParamCounts p = count_parameters(c);
  j["params"] = {{"total", int64_t(p.total)},
                 {"active", int64_t(p.active)},
                 {"active_without_embedding", int64_t(p.active_without_embedding)},
                 {"embedding", int64_t(p.embedding)}};
  return j;
}

ojson file_entry(const fs::path& p) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  return {{"name", p.filename().string()}, {"bytes", ec ? 0 : int64_t(size)}};
}

// Pretty JSON with arrays of plain values kept on one line (moe_layers of a 61-layer model stays short).
void print_json(const ojson& j, std::string& out, int indent) {
  const std::string pad(size_t(indent) * 2, ' '), pad_in(size_t(indent + 1) * 2, ' ');
  if (j.is_object() && !j.empty()) {
    out += "{\n";
    size_t i = 0;
    for (auto it = j.begin(); it != j.end(); ++it, ++i) {
      out += pad_in + ojson(it.key()).dump() + ": ";
      print_json(it.value(), out, indent + 1);
      out += i + 1 < j.size() ? ",\n" : "\n";
    }
    out += pad + "}";
  } else if (j.is_array() && !j.empty() && std::any_of(j.begin(), j.end(), [](const ojson& x) { return x.is_structured(); })) {
    out += "[\n";
    for (size_t i = 0; i < j.size(); ++i) {
      out += pad_in;
      print_json(j[i], out, indent + 1);
      out += i + 1 < j.size() ? ",\n" : "\n";
    }
    out += pad + "]";
  } else {
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
}

int usage(const char* msg) {
  std::fprintf(stderr, "moescope info: error: %s\nusage: moescope info MODEL_DIR|config.json\n", msg);
  return 2;
}

}  // namespace

int cmd_info(const Args& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::printf("usage: moescope info MODEL_DIR|config.json\n"
                "Prints a JSON summary: family, layers, experts, k, parameter counts (total / active per token),\n"
                "and for a checkpoint directory its dtypes, files and the parameters counted from its tensors.\n");
    return 0;
  }
  if (args.size() != 1) return usage(args.empty() ? "missing MODEL_DIR or config.json" : "expected exactly one path");
  const std::string path = args[0];
  std::error_code ec;
  ojson out;
  out["path"] = path;

  if (fs::is_regular_file(path, ec) && fs::path(path).extension() == ".safetensors") {
    throw Error(path + ": a single .safetensors file has no config; give its checkpoint directory or config.json");
  } else if (fs::is_regular_file(path, ec)) {  // a bare config.json: architecture only
    const ModelConfig c = load_model_config(path);
    out["source"] = "config";
    out.update(describe(c));
    out["dtypes"] = ojson::array();
    out["files"] = ojson::array({file_entry(path)});
    out["warnings"] = c.warnings;
  } else if (fs::is_directory(path, ec)) {
    if (!fs::exists(fs::path(path) / "config.json", ec)) throw Error(path + ": no config.json in this directory");
    out["source"] = "checkpoint";
    {
      // Every tensor checked, none read or converted (GPT-OSS experts stay as stored).
      auto model = Model::load(path, nullptr, WeightResidency::Mapped, LoadMode::Inspect);
      const ModelConfig& c = model->config();
      out.update(describe(c));
      out["dtypes"] = model->dtypes();
      if (!model->weights().conversions.empty()) out["conversions"] = model->weights().conversions;
      ojson files = ojson::array();
      files.push_back(file_entry(fs::path(path) / "config.json"));
      if (!model->store().index_path().empty()) files.push_back(file_entry(model->store().index_path()));
      for (const auto& f : model->store().files()) files.push_back(file_entry(f->path()));
      out["files"] = files;
      const int64_t counted = count_weight_parameters(model->weights());
      const int64_t arch = int64_t(count_parameters(c).total);
      out["checkpoint_params"] = counted;
      out["checkpoint_params_match"] = counted == arch;
      auto w = c.warnings;
      if (counted != arch)
        w.push_back(path + ": the checkpoint's tensors hold " + std::to_string(counted) +
                    " parameters but the architecture count from config.json is " + std::to_string(arch));
      out["warnings"] = w;
    }
  } else {
    throw Error(path + ": no such file or directory");
  }
  std::string text;
  print_json(out, text, 0);
  std::printf("%s\n", text.c_str());
  return 0;
}

}  // namespace moescope::cli
