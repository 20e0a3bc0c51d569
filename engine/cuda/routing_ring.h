// Device ring buffer of routing records. During a step the device router writes each MoE layer's
// router logits, experts and weights into the step's slot; after the last layer ONE asynchronous copy
// brings the whole slot to pinned host memory, so recording costs no host sync inside the step.
// Slots alternate between steps so a slot being read on the host is never the one being written.
// Internal to engine/cuda.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/cuda/device_memory.h"

namespace moescope::cuda {

class RoutingRing {
 public:
  static constexpr int kSlots = 2;

  // Layout for moe_layers layers of E experts, k experts per token.
  void configure(int moe_layers, int experts, int k);
  // Starts the next slot for a step of T tokens (grows the buffers for longer steps).
  // Returns true when the buffers moved (device pointers of earlier steps are stale).
  bool begin_step(int T);
  int slot() const { return m_slot; }
  float* logits(int moe_layer) const;    // device [T, E]
  int32_t* experts(int moe_layer) const; // device [T, k]
  float* weights(int moe_layer) const;   // device [T, k]
  // Enqueues the single device -> host copy of the current slot on `s`.
  void copy_to_host_async(cudaStream_t s);
  // Host views of the current slot; valid once `s` of copy_to_host_async has completed.
  const float* host_logits(int moe_layer) const;
  const int32_t* host_experts(int moe_layer) const;
  const float* host_weights(int moe_layer) const;
  int k() const { return m_k; }

 private:
  size_t slot_bytes(int T) const;
  size_t logits_offset(int m) const;
  size_t experts_offset(int m) const;
  size_t weights_offset(int m) const;

  int m_layers = 0, m_experts = 0, m_k = 0;
  int m_rows = 0;   // T the buffers are laid out for (this step)
  int m_cap = 0;    // T the buffers can hold
  int m_slot = 0;
  DeviceBuffer<unsigned char> m_device;
  PinnedBuffer<unsigned char> m_host;
};

}  // namespace moescope::cuda
