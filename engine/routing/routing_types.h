// What a router decided for a batch of tokens at one MoE layer, and what a strategy sees.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/model/tensor.h"

namespace moescope {

struct ModelConfig;

// Router input for T tokens at one MoE layer.
struct RouterInput {
  const ModelConfig* config = nullptr;
  int layer = 0;          // model layer index
  int moe_layer = 0;      // index among MoE layers (0..M-1)
  int tokens = 0;         // T
  int num_experts = 0;    // E
  const float* logits = nullptr;      // [T, E] raw router logits (gate linear output, + router bias if any)
  const int32_t* positions = nullptr; // [T] absolute positions in the sequence
  const int32_t* token_ids = nullptr; // [T]
  const TensorRef* correction_bias = nullptr;  // DeepSeek e_score_correction_bias (may be invalid)
  bool prefill = false;   // true while processing the prompt as one batch
};

// Output: per token up to k_max experts in router rank order, padded with -1 / 0.
struct RoutingDecision {
  int tokens = 0;
  int k_max = 0;
  std::vector<int32_t> experts;   // [T, k_max]
  std::vector<float> weights;     // [T, k_max] weight applied to each expert's output
  std::vector<uint8_t> dropped;   // [T] 1 = token skipped the routed experts (capacity)
  bool shared_enabled = true;     // false: shared expert(s) off for this layer (no-shared)

  void reset(int t, int k) {
    tokens = t;
    k_max = k;
    experts.assign(size_t(t) * k, -1);
    weights.assign(size_t(t) * k, 0.0f);
    dropped.assign(size_t(t), 0);
    shared_enabled = true;
  }
};

}  // namespace moescope
