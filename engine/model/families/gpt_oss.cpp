// GPT-OSS (GptOssForCausalLM): GQA attention with biases, a learned sink logit per head and sliding-window
// attention on the layers layer_types marks "sliding_attention"; a router with a bias (top-k on the logits,
// softmax over the k); experts with biases and the clamped SwiGLU. The experts come fused, in one of two
// layouts, and are rewritten at load into the engine's per-expert [out, in] matrices:
//  - what transformers' save_pretrained writes: `experts.gate_up_proj` [E, H, 2I] (y = x W, gate and up
//    interleaved along the last axis: gate = [..., 0::2], up = [..., 1::2]) and `experts.down_proj` [E, I, H],
//    in any float dtype (kept);
//  - the released checkpoints: MXFP4 `experts.{gate_up,down}_proj_{blocks,scales}` (engine/model/mxfp4.h),
//    rows = output features (gate_up rows interleaved the same way), kept as MXFP4 (DType::MXFP4 rows: codes
//    then scales, tensor.h) with gate and up rows de-interleaved.
// Biases `experts.gate_up_proj_bias` [E, 2I] (interleaved) and `experts.down_proj_bias` [E, H] in both.
#include <algorithm>
#include <cstring>
#include <thread>

#include "engine/checkpoint/weight_store.h"
#include "engine/model/families/family.h"
#include "engine/util/error.h"

namespace moescope::families {

void parse_gpt_oss(const ConfigReader& r, ModelConfig& c) {
  parse_common_gqa(r, c);
  c.num_experts = r.get_int_any({"num_local_experts", "num_experts"});
  c.num_experts_per_tok = r.has("num_experts_per_tok") ? r.get_int("num_experts_per_tok") : r.get_int("experts_per_token");
  c.intermediate_size = r.get_int("intermediate_size");
  c.moe_intermediate_size = c.intermediate_size;
  c.scoring = RouterScoring::TopKSoftmax;
  c.router_bias = true;
  c.qkv_bias = c.o_bias = r.get_bool("attention_bias", true);
  c.attention_sinks = true;
  c.swiglu_limit = float(r.get_double("swiglu_limit", 7.0));
  if (!(c.swiglu_limit > 0)) r.fail("\"swiglu_limit\" must be positive");
  c.sliding_window = r.get_int("sliding_window", 0);
  if (c.sliding_window < 0) r.fail("\"sliding_window\" must not be negative");
  if (!read_layer_types(r, c))
    for (int i = 0; i < c.num_layers; ++i) c.layer_sliding[size_t(i)] = i % 2 == 0;  // GPT-OSS alternates
  c.layer_is_moe.assign(size_t(c.num_layers), true);
}

namespace {

// An uninitialised buffer owned by the weights (its pages are only touched as they are written, so a layer
// converted expert by expert never holds both copies); returns where to write.
std::byte* own(ModelWeights& w, size_t bytes) {
  std::shared_ptr<std::byte[]> buf(new std::byte[bytes]);
  std::byte* p = buf.get();
  w.owned.push_back(std::move(buf));
  return p;
}

TensorRef view(std::string name, DType dtype, std::vector<int64_t> shape, const std::byte* data) {
  TensorRef t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.data = data;
  t.nbytes = size_t(t.shape.empty() ? 1 : t.shape[0]) * row_bytes(dtype, t.cols());
  return t;
}

// f(e) for every expert, over the cores (each expert writes its own rows).
template <class F>
void for_each_expert(int E, F&& f) {
  const int threads = std::max(1, std::min<int>(E, int(std::thread::hardware_concurrency())));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int e = t; e < E; e += threads) f(e);
    });
  for (int e = 0; e < E; e += threads) f(e);
  for (auto& th : pool) th.join();
}

struct ExpertBuffers {  // one layer: gate [E][I] rows of H, up [E][I] rows of H, down [E][H] rows of I
  DType dtype;
  std::byte *gate, *up, *down;
};

ExpertBuffers alloc_experts(ModelWeights& w, DType dtype, int64_t E, int64_t H, int64_t I) {
  const size_t gate_bytes = size_t(E * I) * row_bytes(dtype, H), down_bytes = size_t(E * H) * row_bytes(dtype, I);
  std::byte* p = own(w, 2 * gate_bytes + down_bytes);
  return {dtype, p, p + gate_bytes, p + 2 * gate_bytes};
}

// save_pretrained layout: gate_up [E, H, 2I], down [E, I, H] -> [out, in] per expert, same dtype.
void repack_fused(const TensorRef& gu, const TensorRef& dn, const ExpertBuffers& out, int64_t E, int64_t H, int64_t I) {
  const size_t es = dtype_size(gu.dtype);
  for_each_expert(int(E), [&](int e) {
    const std::byte* g = gu.data + size_t(e) * size_t(H * 2 * I) * es;
    std::byte* gate = out.gate + size_t(e) * size_t(I * H) * es;
    std::byte* up = out.up + size_t(e) * size_t(I * H) * es;
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < I; ++i) {
        std::memcpy(gate + size_t(i * H + h) * es, g + size_t(h * 2 * I + 2 * i) * es, es);
        std::memcpy(up + size_t(i * H + h) * es, g + size_t(h * 2 * I + 2 * i + 1) * es, es);
      }
    const std::byte* d = dn.data + size_t(e) * size_t(I * H) * es;
    std::byte* down = out.down + size_t(e) * size_t(H * I) * es;
    for (int64_t i = 0; i < I; ++i)
      for (int64_t h = 0; h < H; ++h) std::memcpy(down + size_t(h * I + i) * es, d + size_t(i * H + h) * es, es);
    WeightStore::release_pages(g, size_t(H * 2 * I) * es);  // this expert's stored bytes are no longer needed
    WeightStore::release_pages(d, size_t(I * H) * es);
  });
}

// Released layout: MXFP4 blocks [E, rows, K/32, 16] + scales [E, rows, K/32] -> engine MXFP4 rows (codes, then
// scales; tensor.h), gate_up rows 2i -> gate row i, 2i+1 -> up row i. Values are not touched.
void repack_mxfp4(const TensorRef& gu_b, const TensorRef& gu_s, const TensorRef& dn_b, const TensorRef& dn_s,
                  const ExpertBuffers& out, int64_t E, int64_t H, int64_t I) {
  const size_t rh = row_bytes(DType::MXFP4, H), ri = row_bytes(DType::MXFP4, I);
  auto put = [](std::byte* dst, const TensorRef& blocks, const TensorRef& scales, int64_t row, int64_t K) {
    std::memcpy(dst, blocks.data + size_t(row * (K / 2)), size_t(K / 2));
    std::memcpy(dst + K / 2, scales.data + size_t(row * (K / 32)), size_t(K / 32));
  };
  for_each_expert(int(E), [&](int e) {
    for (int64_t r = 0; r < 2 * I; ++r)
      put((r % 2 == 0 ? out.gate : out.up) + size_t(e * I + r / 2) * rh, gu_b, gu_s, e * 2 * I + r, H);
    for (int64_t h = 0; h < H; ++h) put(out.down + size_t(e * H + h) * ri, dn_b, dn_s, e * H + h, I);
    // this expert's stored bytes are no longer needed
    WeightStore::release_pages(gu_b.data + size_t(e * 2 * I) * size_t(H / 2), size_t(2 * I) * size_t(H / 2));
    WeightStore::release_pages(dn_b.data + size_t(e * H) * size_t(I / 2), size_t(H) * size_t(I / 2));
  });
}

}  // namespace

void bind_gpt_oss(const ModelConfig& c, WeightBinder& b, ModelWeights& w) {
  bind_common_gqa(c, b, w);
  const int64_t E = c.num_experts, H = c.hidden_size, I = c.moe_intermediate_size;
  const Dim Ed{E, "num_local_experts"}, Hd{H, "hidden_size"}, Id{I, "intermediate_size"}, I2{2 * I, "2*intermediate_size"};
  const Dim heads{c.num_heads, "num_attention_heads"};
  bool any_mxfp4 = false, any_repacked = false;
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = layer_prefix(l);
    LayerWeights& L = w.layers[size_t(l)];
    L.attn.sinks = b.need(p + "self_attn.sinks", {heads});
    L.moe.router = b.need(p + "mlp.router.weight", {Ed, Hd});
    L.moe.router_bias = b.need(p + "mlp.router.bias", {Ed});
    const std::string px = p + "mlp.experts.";
    const TensorRef gu_bias = b.need(px + "gate_up_proj_bias", {Ed, I2});
    const TensorRef dn_bias = b.need(px + "down_proj_bias", {Ed, Hd});

    const bool mxfp4 = b.has(px + "gate_up_proj_blocks") || b.has(px + "down_proj_blocks");
    ExpertBuffers buf{};
    bool bound = false;
    if (mxfp4) {
      if (H % 32 != 0 || I % 32 != 0)
        throw Error(b.file_of(b.has(px + "gate_up_proj_blocks") ? px + "gate_up_proj_blocks" : px + "down_proj_blocks") +
                    ": MXFP4 experts need hidden_size and intermediate_size to be multiples of 32 (config says " +
                    std::to_string(H) + " and " + std::to_string(I) + ")");
      const Dim Hg{H / 32, "hidden_size/32"}, Ig{I / 32, "intermediate_size/32"}, B16{16, "16 bytes per block"};
      const TensorRef gu_b = b.need_packed(px + "gate_up_proj_blocks", {Ed, I2, Hg, B16}, DType::U8);
      const TensorRef gu_s = b.need_packed(px + "gate_up_proj_scales", {Ed, I2, Hg}, DType::U8);
      const TensorRef dn_b = b.need_packed(px + "down_proj_blocks", {Ed, Hd, Ig, B16}, DType::U8);
      const TensorRef dn_s = b.need_packed(px + "down_proj_scales", {Ed, Hd, Ig}, DType::U8);
      if (gu_b.valid() && gu_s.valid() && dn_b.valid() && dn_s.valid() && !b.convert) {
        w.unconverted_params += 2 * (gu_b.numel() + dn_b.numel());  // two FP4 values per byte; scales are not parameters
        any_mxfp4 = true;
      } else if (gu_b.valid() && gu_s.valid() && dn_b.valid() && dn_s.valid()) {
        buf = alloc_experts(w, DType::MXFP4, E, H, I);
        repack_mxfp4(gu_b, gu_s, dn_b, dn_s, buf, E, H, I);
        for (const TensorRef* t : {&gu_b, &gu_s, &dn_b, &dn_s}) b.release(*t);
        bound = any_mxfp4 = true;
      }
    } else {
      const TensorRef gu = b.need(px + "gate_up_proj", {Ed, Hd, I2});
      const TensorRef dn = b.need(px + "down_proj", {Ed, Id, Hd});
      if (gu.valid() && dn.valid()) {
        if (gu.dtype != dn.dtype)
          throw Error(b.file_of(gu.name) + ": " + gu.name + " is " + dtype_name(gu.dtype) + " but " + dn.name + " is " +
                      dtype_name(dn.dtype));
        any_repacked = true;
        if (b.convert) {
          buf = alloc_experts(w, gu.dtype, E, H, I);
          repack_fused(gu, dn, buf, E, H, I);
          b.release(gu);
          b.release(dn);
          bound = true;
        } else {
          w.unconverted_params += gu.numel() + dn.numel();
        }
      }
    }
    b.progress(double(l + 1) / c.num_layers, "experts of layer " + std::to_string(l + 1) + "/" + std::to_string(c.num_layers));
    if (!b.convert) w.unconverted_params += gu_bias.numel() + dn_bias.numel();
    if (!bound || !gu_bias.valid() || !dn_bias.valid()) continue;  // inspecting, or tensors missing (finish() reports them)

    // Biases: gate/up de-interleaved into one owned [E][2][I] buffer; down bias rows are views.
    const size_t bs = dtype_size(gu_bias.dtype);
    std::byte* gb = own(w, size_t(E * 2 * I) * bs);
    for (int64_t e = 0; e < E; ++e)
      for (int64_t i = 0; i < I; ++i) {
        std::memcpy(gb + size_t(e * 2 * I + i) * bs, gu_bias.data + size_t(e * 2 * I + 2 * i) * bs, bs);
        std::memcpy(gb + size_t(e * 2 * I + I + i) * bs, gu_bias.data + size_t(e * 2 * I + 2 * i + 1) * bs, bs);
      }
    const size_t gr = row_bytes(buf.dtype, H), dr = row_bytes(buf.dtype, I);
    const std::string src = mxfp4 ? px + "gate_up_proj_blocks" : px + "gate_up_proj";
    const std::string dsrc = mxfp4 ? px + "down_proj_blocks" : px + "down_proj";
    L.moe.experts.assign(size_t(E), FfnWeights{});
    for (int64_t e = 0; e < E; ++e) {
      FfnWeights& f = L.moe.experts[size_t(e)];
      const std::string ix = "[" + std::to_string(e) + "]";
      f.gate = view(src + ix + " gate", buf.dtype, {I, H}, buf.gate + size_t(e * I) * gr);
      f.up = view(src + ix + " up", buf.dtype, {I, H}, buf.up + size_t(e * I) * gr);
      f.down = view(dsrc + ix, buf.dtype, {H, I}, buf.down + size_t(e * H) * dr);
      f.gate_bias = view(gu_bias.name + ix + " gate", gu_bias.dtype, {I}, gb + size_t(e * 2 * I) * bs);
      f.up_bias = view(gu_bias.name + ix + " up", gu_bias.dtype, {I}, gb + size_t(e * 2 * I + I) * bs);
      TensorRef db = dn_bias.slice_rows(e, 1);
      db.shape = {H};
      db.name = dn_bias.name + ix;
      f.down_bias = db;
    }
  }
  if (any_mxfp4)
    w.conversions.push_back("MXFP4 experts kept as MXFP4 (4.25 bits per weight; decoded to fp32 inside the CPU kernels, "
                            "dequantized to BF16 when uploaded to a GPU); gate and up rows de-interleaved at load");
  if (any_repacked)
    w.conversions.push_back("fused experts (gate_up_proj [E, H, 2I], down_proj [E, I, H]) transposed and de-interleaved at load");
}

}  // namespace moescope::families
