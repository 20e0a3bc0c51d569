// Tensor views for every weight of a model, bound by name from the checkpoint according to the
// family (engine/model/families). All linear weights are [out_features, in_features] (y = x W^T).
// Backends read only this struct; they never look up tensors by name.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "engine/model/tensor.h"

namespace moescope {

struct FfnWeights {       // SwiGLU MLP: down(act(gate x) * up x)
  TensorRef gate;         // [I, H]
  TensorRef up;           // [I, H]
  TensorRef down;         // [H, I]
  TensorRef gate_bias, up_bias, down_bias;  // GPT-OSS only
};

struct AttentionWeights {
  // GQA
  TensorRef q, k, v, o;   // q [heads*hd, H], k/v [kv*hd, H], o [H, heads*hd]
  TensorRef q_bias, k_bias, v_bias, o_bias;
  TensorRef q_norm, k_norm;  // OLMoE: [heads*hd] / [kv*hd]; Qwen3: [hd]
  TensorRef sinks;           // GPT-OSS [heads]
  // MLA (DeepSeek-V3)
  TensorRef q_a, q_a_norm, q_b;      // q_a [q_lora, H], q_b [heads*(nope+rope), q_lora]; or q (no lora)
  TensorRef kv_a, kv_a_norm, kv_b;   // kv_a [kv_lora+rope, H], kv_b [heads*(nope+v), kv_lora]
};

struct MoeWeights {
  TensorRef router;                  // [E, H]
  TensorRef router_bias;             // [E] (GPT-OSS)
  TensorRef correction_bias;         // [E] (DeepSeek e_score_correction_bias)
  std::vector<FfnWeights> experts;   // [E]; views into fused tensors when the checkpoint fuses them
  FfnWeights shared;                 // shared expert(s) as one MLP (DeepSeek concatenates n_shared)
  TensorRef shared_gate;             // [1, H] (Qwen2-MoE)
};

struct LayerWeights {
  TensorRef input_norm;              // [H]
  TensorRef post_attention_norm;     // [H]
  TensorRef input_norm_bias, post_attention_norm_bias;  // [H], LayerNorm models (PhiMoE) only
  AttentionWeights attn;
  bool is_moe = false;
  FfnWeights mlp;                    // dense layers
  MoeWeights moe;                    // MoE layers
};

struct ModelWeights {
  TensorRef embed;                   // [V, H]
  TensorRef final_norm;              // [H]
  TensorRef final_norm_bias;         // [H], LayerNorm models (PhiMoE) only
  TensorRef lm_head;                 // [V, H] (== embed when tied)
  TensorRef lm_head_bias;            // [V] (PhiMoE lm_head_bias)
  std::vector<LayerWeights> layers;
  // Weights the loader had to rewrite rather than map (GPT-OSS: fused experts transposed and de-interleaved,
  // MXFP4 experts dequantized to bf16); the TensorRefs above point into these buffers.
  std::vector<std::shared_ptr<const std::byte[]>> owned;
  // What the loader did to the stored weights, for `moescope info` and the app (empty: used as stored).
  std::vector<std::string> conversions;
  // LoadMode::Inspect: parameters of tensors that were checked but left unconverted (and unbound).
  int64_t unconverted_params = 0;
};

}  // namespace moescope
