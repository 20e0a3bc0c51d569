// Internal interface between the generic loader (model_config.cpp, model.cpp) and the per-architecture
// files in this directory. Each family has a parse_<family> (config.json -> ModelConfig) and a
// bind_<family> (tensor names -> ModelWeights). Shared helpers for both live in common.cpp.
#pragma once
#include <functional>
#include <initializer_list>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/model/model_config.h"
#include "engine/model/model_weights.h"

namespace moescope {
class WeightStore;
}

namespace moescope::families {

using json = nlohmann::json;

// ---- config.json reading (errors name the config file and the key) ------------------------------
struct ConfigReader {
  const json& j;
  const std::string& path;

  bool has(const char* key) const;  // present and not null
  int get_int(const char* key) const;                 // required
  int get_int(const char* key, int fallback) const;   // optional (null = fallback)
  double get_double(const char* key, double fallback) const;
  bool get_bool(const char* key, bool fallback) const;
  std::string get_string(const char* key, const std::string& fallback) const;
  // First present key among `keys` (e.g. num_experts / num_local_experts); required.
  int get_int_any(std::initializer_list<const char*> keys) const;
  [[noreturn]] void fail(const std::string& what) const;  // throws Error("path: what")
};

// Fields every GQA family shares: sizes, heads, head_dim, norms, rope, tie, act, token ids.
void parse_common_gqa(const ConfigReader& r, ModelConfig& c);
// vocab, hidden, layers, eps, max positions, tie, hidden_act (only silu), token ids.
void parse_common_base(const ConfigReader& r, ModelConfig& c);
// rope_theta/rope_scaling at top level (old) or "rope_parameters" (transformers 5).
void parse_rope(const ConfigReader& r, ModelConfig& c);
// Qwen-style dense layers: mlp_only_layers + decoder_sparse_step.
void parse_qwen_moe_layers(const ConfigReader& r, ModelConfig& c);
// "layer_types" (one "sliding_attention" / "full_attention" per layer) into c.layer_sliding, which is sized to
// num_layers and all false when the key is absent; returns whether it was present.
bool read_layer_types(const ConfigReader& r, ModelConfig& c);
// Qwen2/Qwen3 use_sliding_window: rejected when it would limit attention below the context length.
void reject_qwen_sliding_window(const ConfigReader& r, const ModelConfig& c);

void parse_mixtral(const ConfigReader& r, ModelConfig& c);
void parse_olmoe(const ConfigReader& r, ModelConfig& c);
void parse_qwen2_moe(const ConfigReader& r, ModelConfig& c);
void parse_qwen3_moe(const ConfigReader& r, ModelConfig& c);
void parse_deepseek_v2(const ConfigReader& r, ModelConfig& c);
void parse_deepseek_v3(const ConfigReader& r, ModelConfig& c);
// DeepSeek-V2/V3 shared part: MLA, experts, shared experts, dense layers, routed_scaling_factor.
void parse_deepseek_common(const ConfigReader& r, ModelConfig& c);
// DeepSeek-style expert keys (n_routed_experts, num_experts_per_tok, moe_intermediate_size, intermediate_size,
// n_shared_experts with the family's default, routed_scaling_factor), shared by DeepSeek-V2/V3 and GLM-4.5.
void parse_deepseek_experts(const ConfigReader& r, ModelConfig& c, int default_shared);
// n_group / topk_group consistent with n_routed_experts and num_experts_per_tok.
void check_deepseek_groups(const ConfigReader& r, ModelConfig& c);
void parse_glm4_moe(const ConfigReader& r, ModelConfig& c);
void parse_ernie4_5_moe(const ConfigReader& r, ModelConfig& c);
void parse_gpt_oss(const ConfigReader& r, ModelConfig& c);
void parse_granitemoe(const ConfigReader& r, ModelConfig& c);  // granitemoe and granitemoeshared
void parse_dots1(const ConfigReader& r, ModelConfig& c);
void parse_phimoe(const ConfigReader& r, ModelConfig& c);

// ---- weight binding ----------------------------------------------------------------------------
// One expected dimension and the config key it comes from, for messages such as
// "shape [8,64] but config says num_experts=4, hidden_size=64".
struct Dim {
  int64_t value;
  std::string label;  // e.g. "hidden_size" or "num_attention_heads*head_dim"
};

class WeightBinder {
 public:
  WeightBinder(WeightStore& store, const ModelConfig& cfg);

  bool has(const std::string& name) const;
  // Required tensor with the given shape (float dtype). Missing ones are collected and reported together
  // by finish(); a wrong shape throws at once.
  TensorRef need(const std::string& name, std::initializer_list<Dim> shape);
  // Like need() when present; an invalid TensorRef when absent.
  TensorRef optional(const std::string& name, std::initializer_list<Dim> shape);
  // Like need() for packed integer data such as MXFP4 blocks and scales: the dtype must be `dtype`.
  TensorRef need_packed(const std::string& name, std::initializer_list<Dim> shape, DType dtype);
  // A tensor converted into the weights' own memory: its stored bytes go back to the system (WeightStore::release).
  void release(const TensorRef& t);
  // File holding `name` (for messages).
  const std::string& file_of(const std::string& name) const;
  // Feed-forward weights of one expert or dense MLP: `prefix` + {gate,up,down}_proj.weight, or Mixtral's
  // {w1,w3,w2}.weight when `mixtral_names`.
  FfnWeights ffn(const std::string& prefix, int64_t width, const char* width_label, bool mixtral_names = false);
  // Routed experts of one layer, per-expert tensors ("<experts>.<e>.…") or fused
  // "<experts>.gate_up_proj" [E, 2I, H] (gate = rows 0..I-1, up = rows I..2I-1) + "<experts>.down_proj"
  // [E, H, I], in which case every FfnWeights is a view into the fused data.
  std::vector<FfnWeights> experts(const std::string& experts_prefix, int64_t width, const char* width_label,
                                  bool mixtral_names = false);
  // Routed experts stored as two fused tensors under any names: `gate_up` [E, 2I, H] (gate = rows 0..I-1, up =
  // rows I..2I-1) and `down` [E, H, I]; every FfnWeights is a view into them.
  std::vector<FfnWeights> fused_experts(const std::string& gate_up, const std::string& down, int64_t width,
                                        const char* width_label);
  // One SwiGLU MLP stored as a fused `gate_up` [2I, H] (gate rows first) and `down` [H, I] (Granite's shared_mlp).
  FfnWeights fused_ffn(const std::string& gate_up, const std::string& down, int64_t width, const char* width_label);
  // Marks a tensor as understood but not bound (e.g. rotary inv_freq buffers).
  void ignore(const std::string& name);

  // Throws when required tensors were missing; fails on checkpoint tensors nothing bound unless they
  // are known extras (rotary inv_freq, layers >= num_hidden_layers such as DeepSeek's MTP layer), which
  // become warnings in `warnings`.
  void finish(std::vector<std::string>& warnings);

  int64_t bound_parameters() const { return m_bound_params; }
  // FP8 (E4M3 + weight_scale_inv) matrices bound, and the buffers their FP8_B128 rows were written to (moved
  // into ModelWeights::owned by the loader).
  int fp8_matrices() const { return m_fp8_matrices; }
  int fp8_input_scales() const { return m_fp8_input_scales; }  // compressed-tensors static activation scales seen
  std::vector<std::shared_ptr<const std::byte[]>> take_owned() { return std::move(m_owned); }

  // False for LoadMode::Inspect: check tensors, skip conversions (see LoadMode in model.h).
  bool convert = true;

  // Called by binders that do real work per layer (GPT-OSS repacking): fraction in [0,1], a message. May
  // throw Cancelled.
  std::function<void(double, const std::string&)> on_progress;
  void progress(double fraction, const std::string& what) const {
    if (on_progress) on_progress(fraction, what);
  }

 private:
  TensorRef check(const std::string& name, std::initializer_list<Dim> shape, const DType* packed = nullptr);
  // An F8_E4M3 weight and its weight_scale_inv as FP8_B128 rows in m_owned (as stored for LoadMode::Inspect).
  TensorRef fp8_matrix(const std::string& name, const std::string& file);
  std::vector<std::shared_ptr<const std::byte[]>> m_owned;
  int m_fp8_matrices = 0, m_fp8_input_scales = 0;
  WeightStore& m_store;
  const ModelConfig& m_cfg;
  std::set<std::string> m_used;
  std::vector<std::string> m_missing;
  int64_t m_bound_params = 0;
};

// Embedding, final norm, lm_head (tied -> embed) and the per-layer norms + GQA projections.
void bind_common_gqa(const ModelConfig& c, WeightBinder& b, ModelWeights& w);

// The config keys and bias tensor of a DeepSeek-style MoE layer (router, optional e_score_correction_bias,
// routed experts, shared_experts), for messages and names.
struct SharedExpertsMoeNames {
  const char* experts_key;     // e.g. "n_routed_experts"
  const char* shared_width;    // e.g. "moe_intermediate_size*n_shared_experts"
  const char* bias = nullptr;  // tensor under mlp., e.g. "gate.e_score_correction_bias"; null = none
  bool bias_row = false;       // the bias is stored as [1, E] (ERNIE's moe_statics), not [E]
};
// Layer L's mlp.: the dense MLP, or router + correction bias + experts + shared experts (DeepSeek-V2/V3, GLM-4.5,
// ERNIE 4.5).
void bind_shared_experts_mlp(const ModelConfig& c, WeightBinder& b, int layer, LayerWeights& L,
                             const SharedExpertsMoeNames& names);

void bind_mixtral(const ModelConfig& c, WeightBinder& b, ModelWeights& w);
void bind_olmoe(const ModelConfig& c, WeightBinder& b, ModelWeights& w);
void bind_qwen2_moe(const ModelConfig& c, WeightBinder& b, ModelWeights& w);
void bind_qwen3_moe(const ModelConfig& c, WeightBinder& b, ModelWeights& w);
void bind_deepseek_v3(const ModelConfig& c, WeightBinder& b, ModelWeights& w);
void bind_glm4_moe(const ModelConfig& c, WeightBinder& b, ModelWeights& w);
void bind_ernie4_5_moe(const ModelConfig& c, WeightBinder& b, ModelWeights& w);
void bind_gpt_oss(const ModelConfig& c, WeightBinder& b, ModelWeights& w);
void bind_granitemoe(const ModelConfig& c, WeightBinder& b, ModelWeights& w);
void bind_dots1(const ModelConfig& c, WeightBinder& b, ModelWeights& w);
void bind_phimoe(const ModelConfig& c, WeightBinder& b, ModelWeights& w);

inline std::string layer_prefix(int i) { return "model.layers." + std::to_string(i) + "."; }

}  // namespace moescope::families
