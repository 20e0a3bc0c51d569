// Synthetic checkpoints for benchmarks: a released model's config.json (built in, or any config.json),
// scaled down to fit a memory budget, with random bf16 weights written as a real safetensors file, so
// the ordinary loader (Model::load) and any other reader (the PyTorch peer in bench/) can open it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/model/model_config.h"

namespace moescope {

struct SyntheticOptions {
  int layers = 0;   // num_hidden_layers; 0 = as many as fit the budget
  int experts = 0;  // routed experts per MoE layer; 0 = the config's, fewer only when one layer cannot fit
  int vocab = 0;    // vocab_size; 0 = the config's, 32768 when the embeddings alone take half the budget
  double max_weight_bytes = 4.0 * 1024 * 1024 * 1024;  // budget for the weights as written
  bool gpt_oss_mxfp4 = true;  // GPT-OSS experts as released (MXFP4); false: bf16 as save_pretrained writes them
  // Attention and MLP/expert matrices as a fine-grained FP8 release writes them (F8_E4M3 + weight_scale_inv per
  // 128x128 block, quantization_config quant_method "fp8"); router, embeddings, lm_head and norms stay bf16.
  bool fp8 = false;
};

struct SyntheticScaling {
  std::string key;  // config.json key
  int64_t from = 0, to = 0;
};

struct SyntheticPlan {
  std::string source;                 // built-in name or config path
  std::string config_json;            // the scaled config.json text
  ModelConfig config;                 // parsed from config_json
  std::vector<SyntheticScaling> scaled;  // what was changed to fit
  uint64_t weight_bytes = 0;          // bytes of every weight as written (bf16; GPT-OSS experts MXFP4 by default)
  bool mxfp4_experts = false;         // GPT-OSS expert matrices written as MXFP4 blocks + scales
  bool fp8 = false;                   // attention and MLP matrices written as block-scaled FP8 (SyntheticOptions::fp8)
};

// Built-in released configs: olmoe-1b-7b, qwen1.5-moe-a2.7b, qwen3-30b-a3b, mixtral-8x7b, deepseek-v3,
// gpt-oss-20b.
std::vector<std::string> synthetic_names();
// config.json text of a built-in name; throws Error listing the names when unknown.
std::string synthetic_config_json(const std::string& name);

// `name_or_config`: a built-in name, or a path to a config.json. Throws Error on unknown names,
// unreadable/invalid configs, or when nothing fits the budget.
SyntheticPlan plan_synthetic(const std::string& name_or_config, const SyntheticOptions& opts = {});

// One tensor the loader expects for `cfg` (names and shapes as the Hugging Face checkpoints spell them).
struct SyntheticTensor {
  std::string name;
  std::vector<int64_t> shape;
  // random / ones / small random / random, std 1 / MXFP4 codes (U8) / MXFP4 scales (U8) / FP8 E4M3 codes /
  // their F32 weight_scale_inv [ceil(rows/128), ceil(cols/128)]
  enum Kind { Matrix, Norm, Bias, Embedding, Mxfp4Blocks, Mxfp4Scales, Fp8Codes, Fp8Scales } kind = Matrix;
};
std::vector<SyntheticTensor> synthetic_tensors(const ModelConfig& cfg, bool mxfp4_experts = false, bool fp8 = false);

// Writes dir/config.json and dir/model.safetensors (bf16, uniform random weights with the std of
// initializer_range, norms 1, token embeddings with std 1: see synthetic.cpp), streamed in small chunks so
// memory stays flat. Deterministic in `seed`.
void write_synthetic_checkpoint(const SyntheticPlan& plan, const std::string& dir, uint64_t seed = 1);

}  // namespace moescope
