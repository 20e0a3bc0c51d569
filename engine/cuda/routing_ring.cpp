// RoutingRing: slot layout [logits of every layer | experts of every layer | weights of every layer].
#include "engine/cuda/routing_ring.h"

namespace moescope::cuda {

void RoutingRing::configure(int moe_layers, int experts, int k) {
  m_layers = moe_layers;
  m_experts = experts;
  m_k = k;
  m_rows = m_cap = 0;
}

size_t RoutingRing::slot_bytes(int T) const {
  return size_t(m_layers) * size_t(T) * (size_t(m_experts) * sizeof(float) + size_t(m_k) * (sizeof(int32_t) + sizeof(float)));
}

bool RoutingRing::begin_step(int T) {
  bool grew = false;
  if (T > m_cap) {
    grew = true;
    m_device.reserve(kSlots * slot_bytes(T));
    m_host.reserve(kSlots * slot_bytes(T));
    m_cap = T;
  }
  m_rows = T;
  m_slot = (m_slot + 1) % kSlots;
  return grew;
}

size_t RoutingRing::logits_offset(int m) const {
  return size_t(m_slot) * slot_bytes(m_cap) + size_t(m) * m_rows * m_experts * sizeof(float);
}
size_t RoutingRing::experts_offset(int m) const {
  return size_t(m_slot) * slot_bytes(m_cap) + size_t(m_layers) * m_rows * m_experts * sizeof(float) +
         size_t(m) * m_rows * m_k * sizeof(int32_t);
}
size_t RoutingRing::weights_offset(int m) const {
  return size_t(m_slot) * slot_bytes(m_cap) + size_t(m_layers) * m_rows * (m_experts * sizeof(float) + m_k * sizeof(int32_t)) +
         size_t(m) * m_rows * m_k * sizeof(float);
}

float* RoutingRing::logits(int m) const { return reinterpret_cast<float*>(m_device.get() + logits_offset(m)); }
int32_t* RoutingRing::experts(int m) const { return reinterpret_cast<int32_t*>(m_device.get() + experts_offset(m)); }
float* RoutingRing::weights(int m) const { return reinterpret_cast<float*>(m_device.get() + weights_offset(m)); }
const float* RoutingRing::host_logits(int m) const { return reinterpret_cast<const float*>(m_host.get() + logits_offset(m)); }
const int32_t* RoutingRing::host_experts(int m) const {
  return reinterpret_cast<const int32_t*>(m_host.get() + experts_offset(m));
}
const float* RoutingRing::host_weights(int m) const { return reinterpret_cast<const float*>(m_host.get() + weights_offset(m)); }

void RoutingRing::copy_to_host_async(cudaStream_t s) {
  const size_t off = size_t(m_slot) * slot_bytes(m_cap);
  MOESCOPE_CUDA_CHECK(cudaMemcpyAsync(m_host.get() + off, m_device.get() + off, slot_bytes(m_rows), cudaMemcpyDeviceToHost, s));
}

}  // namespace moescope::cuda
