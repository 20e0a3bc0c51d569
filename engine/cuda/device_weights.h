// The model's weights on the device: matrices keep their stored dtype (bf16/fp16/fp32), vectors
// (norms, biases, sinks, correction bias) become fp32, all in one allocation; per-layer expert
// pointer tables for the grouped expert kernels. Internal to engine/cuda.
#pragma once
#include <cuda_runtime.h>

#include <vector>

#include "engine/cuda/device_matrix.h"
#include "engine/cuda/device_memory.h"
#include "engine/cuda/expert_ffn.cuh"
#include "engine/model/model.h"

namespace moescope::cuda {

struct DevFfn {
  DMat gate, up, down;
  const float* gate_bias = nullptr;
  const float* up_bias = nullptr;
  const float* down_bias = nullptr;
  bool valid() const { return gate.valid(); }
};

struct DevLayer {
  const float* input_norm = nullptr;
  const float* post_norm = nullptr;
  DMat q, k, v, o;
  const float *q_bias = nullptr, *k_bias = nullptr, *v_bias = nullptr, *o_bias = nullptr;
  const float *q_norm = nullptr, *k_norm = nullptr, *sinks = nullptr;
  DMat q_a, q_b, kv_a, kv_b;  // MLA
  const float *q_a_norm = nullptr, *kv_a_norm = nullptr;
  bool is_moe = false;
  DevFfn mlp;
  DMat router;
  const float* router_bias = nullptr;
  const float* correction_bias = nullptr;
  ExpertTable experts;
  DevFfn shared;
  DMat shared_gate;
};

class DeviceWeights {
 public:
  // Copies every weight of `model` to the device (synchronously). Throws Error on unsupported dtypes
  // or experts of differing dtype/shape.
  explicit DeviceWeights(const Model& model);

  DMat embed, lm_head;
  const float* final_norm = nullptr;
  std::vector<DevLayer> layers;
  size_t bytes() const { return m_arena.size(); }

 private:
  DeviceBuffer<unsigned char> m_arena;
  DeviceBuffer<const void*> m_tables;
};

}  // namespace moescope::cuda
