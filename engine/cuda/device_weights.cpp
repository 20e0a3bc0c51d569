// DeviceWeights: plan every tensor's place in one arena (tied or shared tensors once), copy them up,
// then fill the per-layer expert pointer tables.
#include "engine/cuda/device_weights.h"

#include <map>
#include <tuple>
#include <utility>

#include "engine/model/fp8.h"
#include "engine/model/mxfp4.h"
#include "engine/util/error.h"
#include "engine/util/half.h"

namespace moescope::cuda {

namespace {

WType wtype_of(const TensorRef& t) {
  switch (t.dtype) {
    case DType::F32: return WType::F32;
    case DType::BF16: return WType::BF16;
    case DType::F16: return WType::F16;
    case DType::MXFP4: return WType::BF16;  // dequantized on the host when uploaded (exact)
    case DType::FP8_B128: return WType::F32;  // dequantized on the host when uploaded (code * scale is not exact in bf16)
    default: throw Error("tensor '" + t.name + "': dtype " + dtype_name(t.dtype) + " is not supported by the CUDA backend");
  }
}

// Two passes over the same binding code: the first plans offsets, the second resolves pointers.
class Planner {
 public:
  size_t total() const { return m_total; }
  void set_base(unsigned char* base) { m_base = base; }

  DMat matrix(const TensorRef& t) {
    DMat m;
    if (!t.valid()) return m;
    m.type = wtype_of(t);
    m.rows = int(t.rows());
    m.cols = int(t.cols());
    m.data = place(t, false);
    return m;
  }
  const float* vec(const TensorRef& t) {
    if (!t.valid()) return nullptr;
    return static_cast<const float*>(place(t, true));
  }

  // Second pass: copy every planned tensor into the arena.
  void upload() {
    std::vector<float> tmp;
    for (const auto& [key, item] : m_items) {
      const TensorRef& t = *item.ref;
      if (item.as_f32) {
        tmp = t.to_f32();
        MOESCOPE_CUDA_CHECK(cudaMemcpy(m_base + item.offset, tmp.data(), tmp.size() * sizeof(float), cudaMemcpyHostToDevice));
      } else if (t.dtype == DType::MXFP4) {  // GPT-OSS experts: bf16 rows on the device
        const int64_t K = t.cols();
        tmp.resize(size_t(K));
        std::vector<uint16_t> bf(size_t(t.numel()));
        const size_t rb = row_bytes(DType::MXFP4, K);
        for (int64_t r = 0; r < t.rows(); ++r) {
          const auto* src = reinterpret_cast<const uint8_t*>(t.data) + size_t(r) * rb;
          mxfp4::dequantize_row(src, src + K / 2, K, tmp.data());
          for (int64_t i = 0; i < K; ++i) bf[size_t(r * K + i)] = f32_to_bf16(tmp[size_t(i)]);
        }
        MOESCOPE_CUDA_CHECK(cudaMemcpy(m_base + item.offset, bf.data(), bf.size() * 2, cudaMemcpyHostToDevice));
      } else if (t.dtype == DType::FP8_B128) {  // FP8 with block scales: fp32 rows on the device, row by row
        const int64_t K = t.cols();
        tmp.resize(size_t(K));
        const size_t rb = row_bytes(DType::FP8_B128, K);
        for (int64_t r = 0; r < t.rows(); ++r) {
          fp8::dequantize_row(reinterpret_cast<const uint8_t*>(t.data) + size_t(r) * rb, K, tmp.data());
          MOESCOPE_CUDA_CHECK(cudaMemcpy(m_base + item.offset + size_t(r * K) * sizeof(float), tmp.data(),
                                         size_t(K) * sizeof(float), cudaMemcpyHostToDevice));
        }
      } else {
        MOESCOPE_CUDA_CHECK(cudaMemcpy(m_base + item.offset, t.data, t.nbytes, cudaMemcpyHostToDevice));
      }
    }
  }

 private:
  struct Item {
    const TensorRef* ref = nullptr;
    bool as_f32 = false;
    size_t offset = 0;
  };
  const void* place(const TensorRef& t, bool as_f32) {
    const Key key{static_cast<const void*>(t.data), t.nbytes, as_f32};
    auto it = m_items.find(key);
    if (it == m_items.end()) {
      const size_t bytes = as_f32 ? size_t(t.numel()) * sizeof(float)
                           : t.dtype == DType::MXFP4 ? size_t(t.numel()) * 2  // dequantized to bf16
                           : t.dtype == DType::FP8_B128 ? size_t(t.numel()) * 4  // dequantized to fp32
                                                     : t.nbytes;
      Item item{&t, as_f32, m_total};
      m_total += (bytes + 255) / 256 * 256;  // 256-byte aligned: the vector loads need 16
      it = m_items.emplace(key, item).first;
    }
    return m_base ? static_cast<const void*>(m_base + it->second.offset) : reinterpret_cast<const void*>(1);
  }
  // Keyed by address, size and conversion: tied tensors (lm_head == embed) are stored once.
  using Key = std::tuple<const void*, size_t, bool>;
  std::map<Key, Item> m_items;
  size_t m_total = 0;
  unsigned char* m_base = nullptr;
};

void bind_ffn(Planner& p, const FfnWeights& f, DevFfn& d) {
  d.gate = p.matrix(f.gate);
  d.up = p.matrix(f.up);
  d.down = p.matrix(f.down);
  d.gate_bias = p.vec(f.gate_bias);
  d.up_bias = p.vec(f.up_bias);
  d.down_bias = p.vec(f.down_bias);
}

void bind_all(Planner& p, const ModelWeights& w, DeviceWeights& d) {
  d.embed = p.matrix(w.embed);
  d.lm_head = p.matrix(w.lm_head);
  d.final_norm = p.vec(w.final_norm);
  d.layers.assign(w.layers.size(), DevLayer{});
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& L = w.layers[l];
    DevLayer& D = d.layers[l];
    D.input_norm = p.vec(L.input_norm);
    D.post_norm = p.vec(L.post_attention_norm);
    const AttentionWeights& a = L.attn;
    D.q = p.matrix(a.q);
    D.k = p.matrix(a.k);
    D.v = p.matrix(a.v);
    D.o = p.matrix(a.o);
    D.q_bias = p.vec(a.q_bias);
    D.k_bias = p.vec(a.k_bias);
    D.v_bias = p.vec(a.v_bias);
    D.o_bias = p.vec(a.o_bias);
    D.q_norm = p.vec(a.q_norm);
    D.k_norm = p.vec(a.k_norm);
    D.sinks = p.vec(a.sinks);
    D.q_a = p.matrix(a.q_a);
    D.q_b = p.matrix(a.q_b);
    D.kv_a = p.matrix(a.kv_a);
    D.kv_b = p.matrix(a.kv_b);
    D.q_a_norm = p.vec(a.q_a_norm);
    D.kv_a_norm = p.vec(a.kv_a_norm);
    D.is_moe = L.is_moe;
    if (!L.is_moe) {
      bind_ffn(p, L.mlp, D.mlp);
      continue;
    }
    D.router = p.matrix(L.moe.router);
    D.router_bias = p.vec(L.moe.router_bias);
    D.correction_bias = p.vec(L.moe.correction_bias);
    bind_ffn(p, L.moe.shared, D.shared);
    D.shared_gate = p.matrix(L.moe.shared_gate);
    for (const auto& e : L.moe.experts) {
      p.matrix(e.gate);
      p.matrix(e.up);
      p.matrix(e.down);
      p.vec(e.gate_bias);
      p.vec(e.up_bias);
      p.vec(e.down_bias);
    }
  }
}

}  // namespace

DeviceWeights::DeviceWeights(const Model& model) {
  const ModelWeights& w = model.weights();
  Planner plan;
  bind_all(plan, w, *this);
  m_arena.reserve(plan.total());
  plan.set_base(m_arena.get());
  bind_all(plan, w, *this);
  plan.upload();

  // Expert tables: gate, up, down, gate_bias, up_bias, down_bias pointers per expert, per MoE layer.
  std::vector<const void*> host;
  std::vector<std::pair<size_t, size_t>> where;  // (layer, first index in host)
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& L = w.layers[l];
    if (!L.is_moe || L.moe.experts.empty()) continue;
    const auto& ex = L.moe.experts;
    const WType type = wtype_of(ex[0].gate);
    for (const auto& e : ex) {
      if (wtype_of(e.gate) != type || wtype_of(e.up) != type || wtype_of(e.down) != type ||
          e.gate.rows() != ex[0].gate.rows() || e.gate.cols() != ex[0].gate.cols())
        throw Error("layer " + std::to_string(l) + ": experts differ in dtype or shape ('" + e.gate.name +
                    "'); the CUDA backend needs uniform experts");
    }
    const size_t first = host.size();
    where.emplace_back(l, first);
    const bool gb = ex[0].gate_bias.valid(), ub = ex[0].up_bias.valid(), db = ex[0].down_bias.valid();
    for (int part = 0; part < 6; ++part) {
      for (const auto& e : ex) {
        switch (part) {
          case 0: host.push_back(plan.matrix(e.gate).data); break;
          case 1: host.push_back(plan.matrix(e.up).data); break;
          case 2: host.push_back(plan.matrix(e.down).data); break;
          case 3: host.push_back(gb ? plan.vec(e.gate_bias) : nullptr); break;
          case 4: host.push_back(ub ? plan.vec(e.up_bias) : nullptr); break;
          case 5: host.push_back(db ? plan.vec(e.down_bias) : nullptr); break;
        }
      }
    }
    ExpertTable& t = layers[l].experts;
    t.type = type;
    t.inter = int(ex[0].gate.rows());
    t.hidden = int(ex[0].gate.cols());
  }
  if (host.empty()) return;
  m_tables.reserve(host.size());
  MOESCOPE_CUDA_CHECK(cudaMemcpy(m_tables.get(), host.data(), host.size() * sizeof(void*), cudaMemcpyHostToDevice));
  for (const auto& [l, first] : where) {
    const LayerWeights& L = w.layers[l];
    const size_t E = L.moe.experts.size();
    const void* const* base = m_tables.get() + first;
    ExpertTable& t = layers[l].experts;
    t.gate = base;
    t.up = base + E;
    t.down = base + 2 * E;
    t.gate_bias = L.moe.experts[0].gate_bias.valid() ? reinterpret_cast<const float* const*>(base + 3 * E) : nullptr;
    t.up_bias = L.moe.experts[0].up_bias.valid() ? reinterpret_cast<const float* const*>(base + 4 * E) : nullptr;
    t.down_bias = L.moe.experts[0].down_bias.valid() ? reinterpret_cast<const float* const*>(base + 5 * E) : nullptr;
  }
}

}  // namespace moescope::cuda
