// One plain description of a MoE decoder, read from config.json and shared by every backend.
// Fields a family does not use keep their defaults. Families map their config keys in
// engine/model/families/<family>.cpp.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace moescope {

enum class Family { Mixtral, OLMoE, Qwen2Moe, Qwen3Moe, DeepSeekV2, DeepSeekV3, Glm4Moe, Ernie45Moe, GptOss, GraniteMoe, Dots1, PhiMoE };
const char* family_name(Family f);  // config.json model_type spelling: "mixtral", "olmoe", ...

// How router logits become expert scores (see docs/model-semantics in shared/).
enum class RouterScoring {
  SoftmaxTopK,      // softmax over all experts, then top-k (Mixtral, OLMoE, Qwen2/3-MoE, DeepSeek-V2 "greedy";
                    // ERNIE 4.5: top-k of softmax + correction bias)
  SoftmaxGroupTopK, // softmax, top-k within the topk_group groups with the best maximum (DeepSeek-V2
                    // "group_limited_greedy")
  SigmoidGroupTopK, // sigmoid, + correction bias for selection, group-limited top-k (DeepSeek-V3, GLM-4.5)
  TopKSoftmax,      // top-k on raw logits, softmax over the k (GPT-OSS)
  SparseMixer,      // Phi-3.5-MoE: k rounds of "best remaining logit, softmax over the logits within a relative
                    // 2*router_jitter_noise of it, weight = its probability" (transformers' sparsemixer, eval)
};

enum class AttentionKind { GQA, MLA };

struct RopeConfig {
  double theta = 10000.0;
  std::string type = "default";  // "default", "yarn", "linear", ... (others are rejected by the loader)
  double factor = 1.0;
  // yarn
  double original_max_position = 0;
  double beta_fast = 32, beta_slow = 1;
  double mscale = 1, mscale_all_dim = 0;
  double attention_factor = 0;    // yarn: explicit attention scaling (0 = derive from factor/mscale)
  bool truncate = true;           // yarn: round the correction range to integers (GPT-OSS sets false)
  bool interleaved = false;       // DeepSeek: rope on interleaved pairs
  double partial_rotary_factor = 1.0;
  // longrope (Phi-3.5): inverse frequencies divided by short_factor up to original_max_position positions,
  // by long_factor beyond; cos/sin times short_mscale / long_mscale (0 = derive from the lengths)
  std::vector<double> short_factor, long_factor;
  double short_mscale = 0, long_mscale = 0;
};

struct ModelConfig {
  Family family = Family::Mixtral;
  std::string model_type;         // as written in config.json
  std::string architecture;       // architectures[0]
  std::string config_path;
  std::string config_text;        // config.json verbatim (recorded in traces)

  int vocab_size = 0;
  int hidden_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;               // GQA head dim (config head_dim or hidden/heads); MLA: nope+rope (q/k head)
  int max_position_embeddings = 0;
  float rms_norm_eps = 1e-5f;
  RopeConfig rope;
  bool tie_word_embeddings = false;
  bool layer_norm = false;        // PhiMoE: LayerNorm (weight and bias, eps = rms_norm_eps) instead of RMSNorm
  bool lm_head_bias = false;      // PhiMoE
  std::string hidden_act = "silu";

  // attention
  AttentionKind attention = AttentionKind::GQA;
  bool qkv_bias = false;          // Qwen2-MoE, GPT-OSS
  bool o_bias = false;            // GPT-OSS
  bool qk_norm_full = false;      // OLMoE: RMSNorm over the whole q / k projection, before head split
  bool qk_norm_per_head = false;  // Qwen3-MoE: RMSNorm of size head_dim per head
  float clip_qkv = 0.0f;          // OLMoE clip_qkv (0 = off)
  int sliding_window = 0;         // 0 = full attention on every layer
  std::vector<bool> layer_sliding;  // GPT-OSS alternating layers
  bool attention_sinks = false;   // GPT-OSS
  // MLA (DeepSeek-V2, DeepSeek-V3)
  int q_lora_rank = 0;            // 0 = plain q_proj
  int kv_lora_rank = 0;
  int qk_nope_head_dim = 0;
  int qk_rope_head_dim = 0;
  int v_head_dim = 0;
  int num_nextn_predict_layers = 0;  // DeepSeek MTP layers stored after the decoder (not run, not counted)

  // feed-forward
  int intermediate_size = 0;      // dense MLP width
  int moe_intermediate_size = 0;  // routed expert width
  std::vector<bool> layer_is_moe; // [num_layers]; false = dense MLP layer
  int num_experts = 0;            // routed experts per MoE layer
  int num_experts_per_tok = 0;    // k
  RouterScoring scoring = RouterScoring::SoftmaxTopK;
  bool norm_topk_prob = false;    // renormalise the k weights
  float router_norm_min = 0.0f;   // ERNIE moe_norm_min: renormalise by max(sum, this)
  bool router_bias = false;       // GPT-OSS router has a bias
  bool score_correction_bias = false;  // e_score_correction_bias added for the choice (DeepSeek-V3, GLM, ERNIE)
  int n_group = 1, topk_group = 1;
  float routed_scaling_factor = 1.0f;  // DeepSeek: multiplies the final weights (1 elsewhere)
  float router_jitter_noise = 0.0f;    // SparseMixer: the relative logit gap (x 2) within which experts share the softmax
  int num_shared_experts = 0;     // DeepSeek n_shared_experts, Qwen2-MoE: 1 when shared_expert_intermediate_size > 0
  int shared_intermediate_size = 0;  // total width of the shared expert MLP
  bool shared_expert_gate = false;   // Qwen2-MoE sigmoid gate on the shared expert
  float swiglu_limit = 0.0f;      // GPT-OSS clamped SwiGLU (0 = plain SwiGLU)

  // Scalar multipliers (IBM Granite MoE; the defaults leave every other family unchanged):
  float embedding_multiplier = 1.0f;  // token embeddings * this
  float residual_multiplier = 1.0f;   // x = x + block output * this, after attention and after the MLP / MoE
  float attention_multiplier = 0.0f;  // attention score scale instead of 1/sqrt(head_dim) (0 = the default)
  float logits_scaling = 1.0f;        // logits = lm_head output / this

  // FP8 checkpoints (engine/model/fp8.h): F8_E4M3 weights and a scale tensor next to each, W = code * scale.
  //  - quant_method "fp8" (DeepSeek-V3, Qwen3-*-FP8): `<name>_scale_inv` per block of fp8_block_rows x
  //    fp8_block_cols ("block");
  //  - quant_method "compressed-tensors" with 8-bit float weights (llm-compressor's FP8 / FP8-dynamic uploads):
  //    `<name>_scale` per output channel ("channel"), for the whole matrix ("tensor") or per block ("block").
  std::string fp8_method;         // "fp8", "compressed-tensors"; "" = not FP8
  std::string fp8_strategy;       // "block", "channel", "tensor"
  int fp8_block_rows = 0, fp8_block_cols = 0;  // "block" only
  std::string fp8_activation_scheme;  // "dynamic", "static" or "none"; the CPU engine keeps activations in fp32

  // token ids (absent = -1); out-of-vocabulary ids are kept but produce a warning
  int bos_token_id = -1;
  std::vector<int> eos_token_ids;
  int pad_token_id = -1;

  std::vector<std::string> warnings;  // non-fatal findings, e.g. an eos id outside the vocabulary

  int num_moe_layers() const;
  std::vector<int> moe_layer_indices() const;
};

// Parse config.json text. `path` is used in error messages. Unknown architectures, missing required
// keys and values the engine does not implement are Errors.
ModelConfig parse_model_config(const std::string& json_text, const std::string& path);
ModelConfig load_model_config(const std::string& config_json_path);

}  // namespace moescope
