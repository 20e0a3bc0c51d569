// The CUDA backend: the CPU reference's forward pass op for op on the device (engine/cpu is the
// readable reference every kernel is tested against). Weights stay in their stored dtype on the
// device, activations and the KV cache are fp32. Native routing runs on the device and its records
// reach the probe sinks through the RoutingRing (one async copy per step); other strategies route on
// the host (router logits copied back, decisions copied up). Internal to engine/cuda.
#pragma once
#include <cuda_runtime.h>

#include <memory>
#include <vector>

#include "engine/cpu/backend.h"
#include "engine/cuda/device_memory.h"
#include "engine/cuda/device_weights.h"
#include "engine/cuda/linear_runner.h"
#include "engine/cuda/routing_ring.h"
#include "engine/routing/routing_types.h"

namespace moescope::cuda {

// Owns the CUDA streams and event (created first, destroyed last).
struct Streams {
  Streams();
  ~Streams();
  cudaStream_t main = nullptr;
  cudaStream_t copy = nullptr;  // routing-record copies overlap the final norm and lm_head
  cudaEvent_t routed = nullptr;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(std::shared_ptr<const Model> model, int max_context);
  ~CudaBackend() override;

  std::string name() const override { return "cuda"; }
  int max_context() const override { return m_ctx; }
  const float* forward(const ForwardArgs& args) override;

 private:
  void ensure_rows(int rows);
  void ensure_pairs(size_t pairs);
  float* kcache(int layer) const { return m_kcache.get() + size_t(layer) * m_ctx * m_kdim; }
  float* vcache(int layer) const { return m_vcache.get() + size_t(layer) * m_ctx * m_vdim; }
  void observe(const ForwardArgs& a, int index, const float* dev, int T);
  void check_cancel(const ForwardArgs& a);
  // Enqueues the whole step (embeddings to lm_head) on the main stream; no host sync unless an
  // observer or a host strategy needs one. `capturing`: recorded into a CUDA graph (no checks, no syncs).
  void enqueue_step(const ForwardArgs& a, int T, bool native, bool capturing);
  // Decode step through the captured graph of the current ring slot (captured on first use).
  void run_graph(const ForwardArgs& a, int T);

  // cuda_layers.cpp
  void attention_gqa(int layer, int T, int pos0);
  void attention_mla(int layer, int T, int pos0);
  void ffn(const DevFfn& w, const float* x, int rows, float* out, bool accumulate);
  float* residual_target(int T);  // x, or the zeroed m_resid when residual_multiplier != 1
  void add_residual(int T);       // x += m_resid * residual_multiplier (no-op when it is 1)
  void moe_block(int layer, int moe_index, int T, const ForwardArgs& a, bool native);
  void deliver_records(const ForwardArgs& a, int T);

  std::shared_ptr<const Model> m_model;
  const ModelConfig& m_cfg;
  Streams m_streams;
  cudaStream_t m_s = nullptr;
  LinearRunner m_linear;
  DeviceWeights m_w;
  int m_ctx = 0;
  int m_kdim = 0, m_vdim = 0, m_rot_dim = 0;
  float m_attn_scale = 1.0f;
  int m_ffn_width = 0;
  int m_native_k = 0;
  std::vector<int> m_moe_layers;  // model layer index of each MoE layer
  DeviceBuffer<float> m_kcache, m_vcache, m_cos, m_sin;

  // Scratch sized for m_rows tokens.
  int m_rows = 0;
  DeviceBuffer<float> m_x, m_xn, m_q, m_k, m_v, m_attn, m_qa, m_kva, m_kvb, m_gate, m_up, m_shared_out, m_shared_gate,
      m_router, m_router_scratch, m_logits, m_dec_weights;
  DeviceBuffer<int32_t> m_tokens, m_dec_experts, m_counts, m_offsets, m_active, m_n_active, m_pair_tok, m_slot_pair;
  DeviceBuffer<uint8_t> m_dropped;
  size_t m_pairs = 0;
  DeviceBuffer<float> m_act, m_out_pair;
  DeviceBuffer<float> m_resid;  // a block's output before x += it * residual_multiplier (Granite)

  PinnedBuffer<int32_t> m_tokens_host, m_dec_experts_host;
  PinnedBuffer<float> m_logits_host, m_router_host, m_dec_weights_host, m_hidden_host;
  PinnedBuffer<uint8_t> m_dropped_host;
  std::vector<int32_t> m_positions, m_token_ids;
  RoutingRing m_ring;

  // CUDA graphs of a decode step (one per ring slot: the slot's record pointers are baked in). A graph
  // is valid while no buffer it uses has moved: m_generation counts reallocations.
  bool m_graphs = true;  // MOESCOPE_CUDA_GRAPHS=0 turns them off
  uint64_t m_generation = 0;
  cudaGraphExec_t m_graph_exec[RoutingRing::kSlots] = {};
  uint64_t m_graph_generation[RoutingRing::kSlots] = {};
  const int* m_pos_ptr = nullptr;  // device position while capturing, else null (positions by value)
  DeviceBuffer<int32_t> m_pos_dev;
  PinnedBuffer<int32_t> m_pos_host;
  int m_out_first = 0, m_out_rows = 1;  // lm_head rows of the step being enqueued
  RoutingDecision m_decision;
};


}  // namespace moescope::cuda
