// CudaBackend: device probe, setup (weights, KV cache, RoPE tables) and the decoder loop of one
// forward call. Layer pieces are in cuda_layers.cpp.
#include "engine/cuda/cuda_backend.h"
#include "engine/cpu/backend_setup.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "engine/cpu/kernels.h"
#include "engine/cuda/cuda_device.h"
#include "engine/cuda/norm_rope.cuh"
#include "engine/routing/strategy.h"
#include "engine/util/error.h"

namespace moescope {

std::string cuda_unavailable_reason() {
  static std::once_flag once;
  static std::string reason;
  std::call_once(once, [] {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      reason = std::string("no CUDA device: ") + cudaGetErrorString(e);
      return;
    }
    if (n <= 0) {
      reason = "no CUDA device: no CUDA-capable device is detected";
      return;
    }
    try {
      cuda::Blas probe;  // cuBLAS fails here (CUBLAS_STATUS_NOT_INITIALIZED) when the device is unusable
    } catch (const Error& err) {
      reason = err.what();
    }
  });
  return reason;
}

std::unique_ptr<Backend> make_cuda_backend(std::shared_ptr<const Model> model, int max_context) {
  const std::string why = cuda_unavailable_reason();
  if (!why.empty()) throw Error(why);
  return std::make_unique<cuda::CudaBackend>(std::move(model), max_context);
}

namespace cuda {

namespace {

// The KV cache may use at most this much device memory unless the caller asks for a context.
constexpr double kCacheBudgetBytes = 4.0 * 1024 * 1024 * 1024;

// Validates the model before anything is uploaded (a member initialiser runs this first).
const Model& checked(const std::shared_ptr<const Model>& m) {
  if (!m) throw Error("CUDA backend: no model");
  const ModelConfig& c = m->config();
  if (c.num_layers <= 0 || c.hidden_size <= 0 || c.vocab_size <= 0)
    throw Error(c.config_path + ": incomplete model description (layers, hidden size, vocabulary)");
  if (int(m->weights().layers.size()) != c.num_layers)
    throw Error(c.config_path + ": " + std::to_string(m->weights().layers.size()) + " bound layers, config says " +
                std::to_string(c.num_layers));
  if (c.attention == AttentionKind::GQA && (c.num_kv_heads <= 0 || c.num_heads % c.num_kv_heads != 0))
    throw Error(c.config_path + ": num_attention_heads must be a multiple of num_key_value_heads");
  if (c.layer_norm || c.lm_head_bias || c.scoring == RouterScoring::SparseMixer || c.rope.type == "longrope")
    throw Error(c.config_path + ": " + family_name(c.family) +
                " (LayerNorm, lm_head bias, the sparsemixer router, longrope) is not implemented on the CUDA backend; "
                "run it on the CPU backend");
  return *m;
}

}  // namespace

Streams::Streams() {
  const std::string why = cuda_unavailable_reason();
  if (!why.empty()) throw Error(why);
  MOESCOPE_CUDA_CHECK(cudaStreamCreateWithFlags(&main, cudaStreamNonBlocking));
  MOESCOPE_CUDA_CHECK(cudaStreamCreateWithFlags(&copy, cudaStreamNonBlocking));
  MOESCOPE_CUDA_CHECK(cudaEventCreateWithFlags(&routed, cudaEventDisableTiming));
}

Streams::~Streams() {
  if (routed) cudaEventDestroy(routed);
  if (copy) cudaStreamDestroy(copy);
  if (main) cudaStreamDestroy(main);
}

CudaBackend::CudaBackend(std::shared_ptr<const Model> model, int max_context)
    : m_model(std::move(model)),
      m_cfg(checked(m_model).config()),
      m_s(m_streams.main),
      m_linear(m_streams.main),
      m_w((cpu::validate_weights(m_cfg, m_model->weights(),
                            m_cfg.attention == AttentionKind::MLA ? 0 : m_cfg.num_kv_heads * m_cfg.head_dim,
                            m_cfg.attention == AttentionKind::MLA ? 0 : m_cfg.num_kv_heads * m_cfg.head_dim),
           *m_model)) {
  const ModelConfig& c = m_cfg;
  if (c.attention == AttentionKind::MLA) {
    m_kdim = c.num_heads * (c.qk_nope_head_dim + c.qk_rope_head_dim);
    m_vdim = c.num_heads * c.v_head_dim;
    m_rot_dim = c.qk_rope_head_dim;
  } else {
    m_kdim = m_vdim = c.num_kv_heads * c.head_dim;
    m_rot_dim = int(std::lround(c.head_dim * c.rope.partial_rotary_factor)) & ~1;
  }
  const double bytes_per_pos = double(c.num_layers) * (m_kdim + m_vdim) * sizeof(float);
  int ctx = max_context > 0 ? max_context : c.max_position_embeddings;
  if (ctx <= 0) ctx = 4096;
  if (max_context <= 0) ctx = int(std::min<double>(ctx, std::max(256.0, kCacheBudgetBytes / bytes_per_pos)));
  m_ctx = ctx;
  m_kcache.reserve(size_t(c.num_layers) * m_ctx * m_kdim);
  m_vcache.reserve(size_t(c.num_layers) * m_ctx * m_vdim);

  std::vector<float> cs, sn;
  cpu::build_rope_tables(c, m_rot_dim, m_ctx, cs, sn);
  m_cos.reserve(std::max<size_t>(cs.size(), 1));
  m_sin.reserve(std::max<size_t>(sn.size(), 1));
  MOESCOPE_CUDA_CHECK(cudaMemcpy(m_cos.get(), cs.data(), cs.size() * sizeof(float), cudaMemcpyHostToDevice));
  MOESCOPE_CUDA_CHECK(cudaMemcpy(m_sin.get(), sn.data(), sn.size() * sizeof(float), cudaMemcpyHostToDevice));
  m_attn_scale = cpu::attention_scale(c);

  m_ffn_width = std::max({c.intermediate_size, c.moe_intermediate_size, c.shared_intermediate_size, 1});
  for (const auto& L : m_w.layers) {
    if (L.mlp.gate.valid()) m_ffn_width = std::max(m_ffn_width, L.mlp.gate.rows);
    if (L.shared.gate.valid()) m_ffn_width = std::max(m_ffn_width, L.shared.gate.rows);
    if (L.is_moe) m_ffn_width = std::max(m_ffn_width, L.experts.inter);
  }
  for (int l = 0; l < c.num_layers; ++l)
    if (m_model->weights().layers[size_t(l)].is_moe) m_moe_layers.push_back(l);
  m_native_k = std::clamp(c.num_experts_per_tok, 1, std::max(1, c.num_experts));
  m_ring.configure(int(m_moe_layers.size()), std::max(1, c.num_experts), m_native_k);
  m_logits_host.reserve(size_t(c.vocab_size));
  m_pos_dev.reserve(1);
  m_pos_host.reserve(1);
  if (const char* g = std::getenv("MOESCOPE_CUDA_GRAPHS"); g && std::string(g) == "0") m_graphs = false;
  ensure_rows(1);
}

CudaBackend::~CudaBackend() {
  for (auto& g : m_graph_exec)
    if (g) cudaGraphExecDestroy(g);
}

void CudaBackend::ensure_rows(int rows) {
  if (rows <= m_rows) return;
  const ModelConfig& c = m_cfg;
  const size_t T = size_t(rows), H = size_t(c.hidden_size), E = size_t(std::max(1, c.num_experts));
  size_t qdim = size_t(c.num_heads) * c.head_dim;
  if (c.attention == AttentionKind::MLA) {
    qdim = size_t(c.num_heads) * (c.qk_nope_head_dim + c.qk_rope_head_dim);
    m_qa.reserve(T * std::max(1, c.q_lora_rank));
    m_kva.reserve(T * (c.kv_lora_rank + c.qk_rope_head_dim));
    m_kvb.reserve(T * c.num_heads * (c.qk_nope_head_dim + c.v_head_dim));
    m_attn.reserve(T * c.num_heads * c.v_head_dim);
  } else {
    m_attn.reserve(T * qdim);
  }
  m_x.reserve(T * H);
  m_xn.reserve(T * H);
  if (c.residual_multiplier != 1.0f) m_resid.reserve(T * H);
  m_q.reserve(T * qdim);
  m_k.reserve(T * m_kdim);
  m_v.reserve(T * m_vdim);
  m_gate.reserve(T * m_ffn_width);
  m_up.reserve(T * m_ffn_width);
  m_shared_out.reserve(T * H);
  m_shared_gate.reserve(T);
  m_router.reserve(T * E);
  m_router_scratch.reserve(T * 2 * E);
  m_tokens.reserve(T);
  m_tokens_host.reserve(T);
  m_dropped.reserve(T);
  m_dropped_host.reserve(T);
  m_router_host.reserve(T * E);
  m_counts.reserve(E);
  m_offsets.reserve(E + 1);
  m_active.reserve(E);
  m_n_active.reserve(1);
  m_positions.resize(T);
  m_token_ids.resize(T);
  m_rows = rows;
  ++m_generation;
}

void CudaBackend::ensure_pairs(size_t pairs) {
  pairs = std::max<size_t>(pairs, 1);
  if (pairs <= m_pairs) return;
  const size_t H = size_t(m_cfg.hidden_size);
  m_dec_experts.reserve(pairs);
  m_dec_weights.reserve(pairs);
  m_dec_experts_host.reserve(pairs);
  m_dec_weights_host.reserve(pairs);
  m_pair_tok.reserve(pairs);
  m_slot_pair.reserve(pairs);
  m_act.reserve(pairs * size_t(m_ffn_width));
  m_out_pair.reserve(pairs * H);
  m_pairs = pairs;
  ++m_generation;
}

void CudaBackend::check_cancel(const ForwardArgs& a) {
  if (a.cancel && a.cancel->load(std::memory_order_relaxed)) {
    cudaStreamSynchronize(m_s);  // leave no work in flight on buffers the next call reuses
    throw Cancelled();
  }
}

void CudaBackend::observe(const ForwardArgs& a, int index, const float* dev, int T) {
  if (!a.observer) return;
  const size_t n = size_t(T) * m_cfg.hidden_size;
  m_hidden_host.reserve(n);
  MOESCOPE_CUDA_CHECK(cudaMemcpyAsync(m_hidden_host.get(), dev, n * sizeof(float), cudaMemcpyDeviceToHost, m_s));
  MOESCOPE_CUDA_CHECK(cudaStreamSynchronize(m_s));
  a.observer->on_hidden(index, a.first_position, T, m_cfg.hidden_size, m_hidden_host.get());
}

const float* CudaBackend::forward(const ForwardArgs& a) {
  const ModelConfig& c = m_cfg;
  const int T = a.count;
  if (T <= 0) throw Error("forward: no tokens to run");
  if (a.first_position < 0 || a.first_position + T > m_ctx)
    throw Error("sequence of " + std::to_string(a.first_position + T) + " tokens exceeds the context of " +
                std::to_string(m_ctx));
  for (int t = 0; t < T; ++t)
    if (a.tokens[t] < 0 || a.tokens[t] >= c.vocab_size)
      throw Error("token id " + std::to_string(a.tokens[t]) + " is outside the vocabulary of " +
                  std::to_string(c.vocab_size));
  ensure_rows(T);
  for (int t = 0; t < T; ++t) {
    m_positions[size_t(t)] = a.first_position + t;
    m_token_ids[size_t(t)] = a.tokens[t];
  }

  // The strategy's spec is read once per call: "native" routes on the device.
  const bool native = !a.strategy || a.strategy->spec() == "native";
  const bool record = native && a.num_sinks > 0 && !m_moe_layers.empty();
  // Everything a step writes is sized here, before any capture (no allocation inside a graph).
  if (native) {
    if (m_ring.begin_step(T)) ++m_generation;
    ensure_pairs(size_t(T) * m_native_k);
  }
  m_out_rows = a.all_logits ? T : 1;
  m_out_first = a.all_logits ? 0 : T - 1;
  const size_t nlog = size_t(m_out_rows) * c.vocab_size;
  if (nlog > m_logits.size()) {
    m_logits.reserve(nlog);
    ++m_generation;
  }
  m_logits_host.reserve(nlog);

  std::memcpy(m_tokens_host.get(), a.tokens, sizeof(int32_t) * size_t(T));
  MOESCOPE_CUDA_CHECK(cudaMemcpyAsync(m_tokens.get(), m_tokens_host.get(), sizeof(int32_t) * size_t(T),
                                      cudaMemcpyHostToDevice, m_s));
  if (m_graphs && T == 1 && native && !a.observer) {
    check_cancel(a);
    run_graph(a, T);
  } else {
    enqueue_step(a, T, native, /*capturing=*/false);
  }
  if (record) {  // one copy of the whole step's routing records
    MOESCOPE_CUDA_CHECK(cudaEventRecord(m_streams.routed, m_s));
    MOESCOPE_CUDA_CHECK(cudaStreamWaitEvent(m_streams.copy, m_streams.routed, 0));
    m_ring.copy_to_host_async(m_streams.copy);
  }
  MOESCOPE_CUDA_CHECK(cudaMemcpyAsync(m_logits_host.get(), m_logits.get(), nlog * sizeof(float), cudaMemcpyDeviceToHost, m_s));
  MOESCOPE_CUDA_CHECK(cudaStreamSynchronize(m_s));
  if (record) {
    MOESCOPE_CUDA_CHECK(cudaStreamSynchronize(m_streams.copy));
    deliver_records(a, T);
  }
  return m_logits_host.get();
}

void CudaBackend::enqueue_step(const ForwardArgs& a, int T, bool native, bool capturing) {
  const ModelConfig& c = m_cfg;
  const int H = c.hidden_size;
  launch_embed(m_w.embed, m_tokens.get(), T, m_x.get(), m_s);
  if (c.embedding_multiplier != 1.0f) launch_scale(m_x.get(), size_t(T) * H, c.embedding_multiplier, m_s);
  observe(a, 0, m_x.get(), T);
  int moe_index = 0;
  for (int l = 0; l < c.num_layers; ++l) {
    if (!capturing) check_cancel(a);
    const DevLayer& L = m_w.layers[size_t(l)];
    launch_rmsnorm(m_x.get(), H, T, H, L.input_norm, c.rms_norm_eps, m_xn.get(), H, m_s);
    if (c.attention == AttentionKind::MLA)
      attention_mla(l, T, a.first_position);
    else
      attention_gqa(l, T, a.first_position);
    launch_rmsnorm(m_x.get(), H, T, H, L.post_norm, c.rms_norm_eps, m_xn.get(), H, m_s);
    if (L.is_moe) {
      moe_block(l, moe_index++, T, a, native);  // adds its output to x itself
    } else {
      ffn(L.mlp, m_xn.get(), T, residual_target(T), /*accumulate=*/true);
      add_residual(T);
    }
    if (l + 1 < c.num_layers) observe(a, l + 1, m_x.get(), T);
  }
  if (!capturing) check_cancel(a);
  // Final norm: every row when all logits or the residual stream are wanted, else only the last.
  const int first_row = (a.all_logits || a.observer) ? 0 : T - 1;
  launch_rmsnorm(m_x.get() + size_t(first_row) * H, H, T - first_row, H, m_w.final_norm, c.rms_norm_eps,
                 m_xn.get() + size_t(first_row) * H, H, m_s);
  observe(a, c.num_layers, m_xn.get(), T);
  m_linear.run(m_xn.get() + size_t(m_out_first) * H, H, m_out_rows, m_w.lm_head, nullptr, m_logits.get(), c.vocab_size);
  if (c.logits_scaling != 1.0f) launch_divide(m_logits.get(), size_t(m_out_rows) * c.vocab_size, c.logits_scaling, m_s);
}

// Where a block adds its output: x itself, or (residual_multiplier != 1, Granite) a zeroed scratch that
// add_residual() then adds as x += scratch * residual_multiplier.
float* CudaBackend::residual_target(int T) {
  if (m_cfg.residual_multiplier == 1.0f) return m_x.get();
  MOESCOPE_CUDA_CHECK(cudaMemsetAsync(m_resid.get(), 0, size_t(T) * m_cfg.hidden_size * sizeof(float), m_s));
  return m_resid.get();
}

void CudaBackend::add_residual(int T) {
  if (m_cfg.residual_multiplier == 1.0f) return;
  launch_add_scaled(m_x.get(), m_resid.get(), size_t(T) * m_cfg.hidden_size, m_cfg.residual_multiplier, m_s);
}

void CudaBackend::run_graph(const ForwardArgs& a, int T) {
  // The position is the one value that changes between replays: it goes up before the launch.
  m_pos_host.get()[0] = a.first_position;
  MOESCOPE_CUDA_CHECK(cudaMemcpyAsync(m_pos_dev.get(), m_pos_host.get(), sizeof(int32_t), cudaMemcpyHostToDevice, m_s));
  const int slot = m_ring.slot();
  cudaGraphExec_t& exec = m_graph_exec[slot];
  if (!exec || m_graph_generation[slot] != m_generation) {
    if (exec) cudaGraphExecDestroy(exec);
    exec = nullptr;
    cudaGraph_t graph = nullptr;
    MOESCOPE_CUDA_CHECK(cudaStreamBeginCapture(m_s, cudaStreamCaptureModeThreadLocal));
    m_pos_ptr = m_pos_dev.get();
    try {
      enqueue_step(a, T, /*native=*/true, /*capturing=*/true);
    } catch (...) {
      m_pos_ptr = nullptr;
      cudaStreamEndCapture(m_s, &graph);
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    m_pos_ptr = nullptr;
    MOESCOPE_CUDA_CHECK(cudaStreamEndCapture(m_s, &graph));
    const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    MOESCOPE_CUDA_CHECK(e);
    m_graph_generation[slot] = m_generation;
  }
  MOESCOPE_CUDA_CHECK(cudaGraphLaunch(exec, m_s));
}

void CudaBackend::deliver_records(const ForwardArgs& a, int T) {
  const int E = m_cfg.num_experts, k = m_ring.k();
  RoutingDecision& d = m_decision;
  for (size_t m = 0; m < m_moe_layers.size(); ++m) {
    d.reset(T, k);
    const int32_t* ex = m_ring.host_experts(int(m));
    const float* w = m_ring.host_weights(int(m));
    std::copy(ex, ex + size_t(T) * k, d.experts.begin());
    std::copy(w, w + size_t(T) * k, d.weights.begin());
    RoutingBatch batch;
    batch.layer = m_moe_layers[m];
    batch.moe_layer = int(m);
    batch.tokens = T;
    batch.num_experts = E;
    batch.positions = m_positions.data();
    batch.token_ids = m_token_ids.data();
    batch.logits = m_ring.host_logits(int(m));
    batch.decision = &d;
    for (int s = 0; s < a.num_sinks; ++s) a.sinks[s]->on_routing(batch);
  }
}

}  // namespace cuda

}  // namespace moescope
