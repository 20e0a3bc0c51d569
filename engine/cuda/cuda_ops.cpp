// Single-op runners for the CPU-vs-CUDA tests: upload, launch what the backend launches, download.
#include "engine/cuda/cuda_ops.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "engine/cuda/attention.cuh"
#include "engine/cuda/cuda_device.h"
#include "engine/cuda/device_memory.h"
#include "engine/cuda/expert_ffn.cuh"
#include "engine/cuda/linear_runner.h"
#include "engine/cuda/norm_rope.cuh"
#include "engine/cuda/router.cuh"
#include "engine/cuda/sampling.cuh"
#include "engine/util/error.h"

namespace moescope::cuda_ops {

using namespace moescope::cuda;

namespace {

void require_device() {
  const std::string why = cuda_unavailable_reason();
  if (!why.empty()) throw Error(why);
}

template <class T>
DeviceBuffer<T> up(const T* data, size_t n) {
  DeviceBuffer<T> b(std::max<size_t>(n, 1));
  if (n) MOESCOPE_CUDA_CHECK(cudaMemcpy(b.get(), data, n * sizeof(T), cudaMemcpyHostToDevice));
  return b;
}
template <class T>
DeviceBuffer<T> up(const std::vector<T>& v) {
  return up(v.data(), v.size());
}
template <class T>
std::vector<T> down(const DeviceBuffer<T>& b, size_t n) {
  std::vector<T> v(n);
  MOESCOPE_CUDA_CHECK(cudaDeviceSynchronize());
  if (n) MOESCOPE_CUDA_CHECK(cudaMemcpy(v.data(), b.get(), n * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}

WType wtype(const TensorRef& t) {
  switch (t.dtype) {
    case DType::F32: return WType::F32;
    case DType::BF16: return WType::BF16;
    case DType::F16: return WType::F16;
    default: throw Error("cuda_ops: tensor '" + t.name + "' has an unsupported dtype");
  }
}

// A matrix uploaded in its stored dtype.
struct DevMatrix {
  DeviceBuffer<unsigned char> bytes;
  DMat m;
  explicit DevMatrix(const TensorRef& t) {
    if (!t.valid()) return;
    bytes = up(reinterpret_cast<const unsigned char*>(t.data), t.nbytes);
    m.data = bytes.get();
    m.type = wtype(t);
    m.rows = int(t.rows());
    m.cols = int(t.cols());
  }
};

// A vector (norm weight, bias) uploaded as fp32; null pointer when the tensor is invalid.
struct DevVector {
  DeviceBuffer<float> buf;
  const float* ptr = nullptr;
  explicit DevVector(const TensorRef* t) {
    if (!t || !t->valid()) return;
    buf = up(t->to_f32());
    ptr = buf.get();
  }
};

}  // namespace

std::vector<float> linear(const std::vector<float>& x, int T, const TensorRef& W, const TensorRef* bias) {
  require_device();
  const DevMatrix w(W);
  const DevVector b(bias);
  const auto dx = up(x);
  DeviceBuffer<float> dy(size_t(T) * w.m.rows);
  LinearRunner runner(nullptr);
  runner.run(dx.get(), w.m.cols, T, w.m, b.ptr, dy.get(), w.m.rows);
  return down(dy, size_t(T) * w.m.rows);
}

std::vector<float> rmsnorm(const std::vector<float>& x, int rows, int n, const TensorRef& w, float eps) {
  require_device();
  const DevVector dw(&w);
  const auto dx = up(x);
  DeviceBuffer<float> dy(size_t(rows) * n);
  launch_rmsnorm(dx.get(), n, rows, n, dw.ptr, eps, dy.get(), n, nullptr);
  return down(dy, size_t(rows) * n);
}

std::vector<float> rope(const std::vector<float>& v, int T, int heads, int head_dim, int rot_dim, int pos0,
                        const std::vector<float>& cos, const std::vector<float>& sin, bool interleaved) {
  require_device();
  auto dv = up(v);
  const auto dc = up(cos), ds = up(sin);
  launch_rope(dv.get(), int64_t(heads) * head_dim, T, heads, head_dim, 0, rot_dim, pos0, dc.get(), ds.get(), interleaved,
              nullptr);
  return down(dv, v.size());
}

std::vector<float> attention(const std::vector<float>& q, int T, int pos0, const std::vector<float>& K,
                             const std::vector<float>& V, int heads, int kv_heads, int qk_dim, int v_dim, float scale,
                             int window, const std::vector<float>& sinks) {
  require_device();
  const auto dq = up(q), dk = up(K), dvv = up(V), dsinks = up(sinks);
  DeviceBuffer<float> out(size_t(T) * heads * v_dim);
  launch_attention(dq.get(), int64_t(heads) * qk_dim, T, pos0, dk.get(), dvv.get(), heads, kv_heads, qk_dim, v_dim, scale,
                   window, sinks.empty() ? nullptr : dsinks.get(), out.get(), nullptr);
  return down(out, size_t(T) * heads * v_dim);
}

void route_native(const ModelConfig& c, const std::vector<float>& logits, int T,
                  const std::vector<float>& correction_bias, std::vector<int32_t>& experts, std::vector<float>& weights) {
  require_device();
  const int E = c.num_experts;
  const int k = std::clamp(c.num_experts_per_tok, 1, std::max(1, E));
  const auto dl = up(logits), db = up(correction_bias);
  DeviceBuffer<int32_t> de(size_t(T) * k);
  DeviceBuffer<float> dw(size_t(T) * k), scratch(size_t(T) * 2 * E);
  RouterParams p = native_router_params(c, E, k);
  p.correction_bias = correction_bias.empty() ? nullptr : db.get();
  launch_route_native(dl.get(), T, p, de.get(), dw.get(), scratch.get(), nullptr);
  experts = down(de, size_t(T) * k);
  weights = down(dw, size_t(T) * k);
}

std::vector<float> moe_experts(const std::vector<float>& x, const std::vector<float>& xn, int T,
                               const std::vector<FfnWeights>& experts, const RoutingDecision& d,
                               const FfnWeights* shared, const TensorRef* shared_gate, float swiglu_limit) {
  require_device();
  const int E = int(experts.size());
  if (E == 0) throw Error("cuda_ops::moe_experts: no experts");
  const int H = int(experts[0].gate.cols()), I = int(experts[0].gate.rows());
  const int k = d.k_max;
  // Expert weights and the pointer tables the kernels read.
  std::vector<std::unique_ptr<DevMatrix>> mats;
  std::vector<std::unique_ptr<DevVector>> vecs;
  std::vector<const void*> table(size_t(6) * E, nullptr);
  const bool gb = experts[0].gate_bias.valid(), ub = experts[0].up_bias.valid(), db = experts[0].down_bias.valid();
  for (int e = 0; e < E; ++e) {
    const FfnWeights& f = experts[size_t(e)];
    const TensorRef* parts[3] = {&f.gate, &f.up, &f.down};
    for (int p = 0; p < 3; ++p) {
      mats.push_back(std::make_unique<DevMatrix>(*parts[p]));
      table[size_t(p) * E + e] = mats.back()->m.data;
    }
    const TensorRef* biases[3] = {&f.gate_bias, &f.up_bias, &f.down_bias};
    for (int p = 0; p < 3; ++p) {
      vecs.push_back(std::make_unique<DevVector>(biases[p]));
      table[size_t(3 + p) * E + e] = vecs.back()->ptr;
    }
  }
  const auto dtable = up(table);
  ExpertTable tab;
  tab.gate = dtable.get();
  tab.up = dtable.get() + E;
  tab.down = dtable.get() + 2 * E;
  tab.gate_bias = gb ? reinterpret_cast<const float* const*>(dtable.get() + 3 * E) : nullptr;
  tab.up_bias = ub ? reinterpret_cast<const float* const*>(dtable.get() + 4 * E) : nullptr;
  tab.down_bias = db ? reinterpret_cast<const float* const*>(dtable.get() + 5 * E) : nullptr;
  tab.type = wtype(experts[0].gate);
  tab.inter = I;
  tab.hidden = H;

  auto dx = up(x);
  const auto dxn = up(xn);
  std::vector<uint8_t> dropped = d.dropped;
  dropped.resize(size_t(T), 0);
  const auto dex = up(d.experts);
  const auto dwt = up(d.weights);
  const auto ddrop = up(dropped);
  const size_t pairs = std::max<size_t>(size_t(T) * k, 1);
  DeviceBuffer<int32_t> counts(E), offsets(E + 1), active(E), n_active(1), pair_tok(pairs), slot_pair(pairs);
  DeviceBuffer<float> act(pairs * I), out_pair(pairs * H);
  if (k > 0) {
    launch_build_expert_lists(dex.get(), ddrop.get(), T, k, E, counts.get(), offsets.get(), active.get(), n_active.get(),
                              pair_tok.get(), slot_pair.get(), nullptr);
    ExpertLists lists{offsets.get(), active.get(), n_active.get(), pair_tok.get(), slot_pair.get()};
    const int max_active = int(std::min<long long>(E, (long long)T * k));
    launch_expert_gate_up(dxn.get(), lists, tab, max_active, T, swiglu_limit, act.get(), nullptr);
    if (T > 1) launch_expert_down(act.get(), lists, tab, max_active, T, out_pair.get(), nullptr);
  }
  // Shared expert through the backend's own path: linears + SwiGLU.
  DeviceBuffer<float> shared_out, gate_logit;
  const float* so = nullptr;
  const float* sg = nullptr;
  std::unique_ptr<LinearRunner> runner;
  std::vector<std::unique_ptr<DevMatrix>> shared_mats;
  if (shared && shared->gate.valid()) {
    runner = std::make_unique<LinearRunner>(nullptr);
    const int SI = int(shared->gate.rows());
    for (const TensorRef* t : {&shared->gate, &shared->up, &shared->down}) shared_mats.push_back(std::make_unique<DevMatrix>(*t));
    DeviceBuffer<float> g(size_t(T) * SI), u(size_t(T) * SI);
    shared_out.reserve(size_t(T) * H);
    runner->run(dxn.get(), H, T, shared_mats[0]->m, nullptr, g.get(), SI);
    runner->run(dxn.get(), H, T, shared_mats[1]->m, nullptr, u.get(), SI);
    launch_swiglu(g.get(), u.get(), size_t(T) * SI, swiglu_limit, nullptr);
    runner->run(g.get(), SI, T, shared_mats[2]->m, nullptr, shared_out.get(), H);
    MOESCOPE_CUDA_CHECK(cudaDeviceSynchronize());  // g/u die at the end of this block
    so = shared_out.get();
    if (shared_gate && shared_gate->valid()) {
      shared_mats.push_back(std::make_unique<DevMatrix>(*shared_gate));
      gate_logit.reserve(size_t(T));
      runner->run(dxn.get(), H, T, shared_mats.back()->m, nullptr, gate_logit.get(), 1);
      sg = gate_logit.get();
    }
  }
  if (T == 1 && k > 0)  // the backend's decode path
    launch_expert_down_combine_1(dx.get(), act.get(), dex.get(), slot_pair.get(), dwt.get(), k, tab, so, sg, nullptr);
  else
    launch_moe_combine(dx.get(), T, k, H, out_pair.get(), k > 0 ? slot_pair.get() : nullptr, dwt.get(), so, sg, nullptr);
  return down(dx, size_t(T) * H);
}

std::vector<int32_t> argmax_rows(const std::vector<float>& logits, int rows, int vocab) {
  require_device();
  const auto dl = up(logits);
  DeviceBuffer<int32_t> out(size_t(std::max(rows, 1)));
  launch_argmax_rows(dl.get(), rows, vocab, out.get(), nullptr);
  return down(out, size_t(rows));
}

}  // namespace moescope::cuda_ops
