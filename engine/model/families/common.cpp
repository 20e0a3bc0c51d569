// Helpers shared by the per-architecture files: config.json key reading, the common decoder fields,
// RoPE parameters (old top-level and transformers-5 "rope_parameters" forms) and weight binding with
// shape checks against the config.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <regex>

#include "engine/checkpoint/weight_store.h"
#include "engine/model/fp8.h"
#include "engine/model/families/family.h"
#include "engine/util/error.h"

namespace moescope::families {

// ---- ConfigReader ------------------------------------------------------------------------------

void ConfigReader::fail(const std::string& what) const { throw Error(path + ": " + what); }

bool ConfigReader::has(const char* key) const { return j.contains(key) && !j[key].is_null(); }

static bool to_int(const json& v, int& out) {
  if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    if (x < INT32_MIN || x > INT32_MAX) return false;
    out = int(x);
    return true;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (d != std::floor(d) || std::fabs(d) > 2e9) return false;
    out = int(d);
    return true;
  }
  return false;
}

int ConfigReader::get_int(const char* key) const {
  if (!has(key)) fail(std::string("missing required key \"") + key + "\"");
  int v;
  if (!to_int(j[key], v)) fail(std::string("\"") + key + "\" must be an integer, got " + j[key].dump());
  return v;
}

int ConfigReader::get_int(const char* key, int fallback) const { return has(key) ? get_int(key) : fallback; }

double ConfigReader::get_double(const char* key, double fallback) const {
  if (!has(key)) return fallback;
  if (!j[key].is_number()) fail(std::string("\"") + key + "\" must be a number, got " + j[key].dump());
  return j[key].get<double>();
}

bool ConfigReader::get_bool(const char* key, bool fallback) const {
  if (!has(key)) return fallback;
  if (!j[key].is_boolean()) fail(std::string("\"") + key + "\" must be true or false, got " + j[key].dump());
  return j[key].get<bool>();
}

std::string ConfigReader::get_string(const char* key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  if (!j[key].is_string()) fail(std::string("\"") + key + "\" must be a string, got " + j[key].dump());
  return j[key].get<std::string>();
}

int ConfigReader::get_int_any(std::initializer_list<const char*> keys) const {
  for (const char* k : keys)
    if (has(k)) return get_int(k);
  std::string names;
  for (const char* k : keys) names += std::string(names.empty() ? "" : " or ") + "\"" + k + "\"";
  fail("missing required key " + names);
}

// ---- common fields -----------------------------------------------------------------------------

static void read_token_ids(const ConfigReader& r, ModelConfig& c) {
  c.bos_token_id = r.get_int("bos_token_id", -1);
  c.pad_token_id = r.get_int("pad_token_id", -1);
  c.eos_token_ids.clear();
  if (r.has("eos_token_id")) {
    const json& e = r.j["eos_token_id"];
    if (e.is_array()) {
      for (const auto& x : e) {
        int v;
        if (!to_int(x, v)) r.fail("\"eos_token_id\" must be an integer or a list of integers");
        c.eos_token_ids.push_back(v);
      }
    } else {
      c.eos_token_ids.push_back(r.get_int("eos_token_id"));
    }
  }
  auto check = [&](const char* key, int id) {
    if (id >= 0 && id >= c.vocab_size)
      c.warnings.push_back(r.path + ": " + key + " " + std::to_string(id) + " is outside the vocabulary (vocab_size " +
                           std::to_string(c.vocab_size) + "); it can never be generated");
  };
  check("bos_token_id", c.bos_token_id);
  check("pad_token_id", c.pad_token_id);
  for (int e : c.eos_token_ids) check("eos_token_id", e);
}

void parse_common_base(const ConfigReader& r, ModelConfig& c) {
  c.vocab_size = r.get_int("vocab_size");
  c.hidden_size = r.get_int("hidden_size");
  c.num_layers = r.get_int("num_hidden_layers");
  c.max_position_embeddings = r.get_int("max_position_embeddings", 0);
  c.rms_norm_eps = float(r.get_double("rms_norm_eps", 1e-6));
  c.tie_word_embeddings = r.get_bool("tie_word_embeddings", false);
  c.hidden_act = r.get_string("hidden_act", "silu");
  if (c.hidden_act != "silu")
    r.fail("hidden_act '" + c.hidden_act + "' is not supported (the engine implements silu / SwiGLU only)");
  if (c.vocab_size <= 0 || c.hidden_size <= 0 || c.num_layers <= 0)
    r.fail("vocab_size, hidden_size and num_hidden_layers must be positive");
  // Far above any released model; larger values are corrupt configs that would only exhaust memory.
  if (c.num_layers > 10000 || c.hidden_size > (1 << 20) || c.vocab_size > (1 << 26))
    r.fail("implausible sizes (num_hidden_layers " + std::to_string(c.num_layers) + ", hidden_size " +
           std::to_string(c.hidden_size) + ", vocab_size " + std::to_string(c.vocab_size) + ")");
  read_token_ids(r, c);
  parse_rope(r, c);
}

void parse_common_gqa(const ConfigReader& r, ModelConfig& c) {
  parse_common_base(r, c);
  c.num_heads = r.get_int("num_attention_heads");
  c.num_kv_heads = r.get_int("num_key_value_heads", c.num_heads);
  if (c.num_heads <= 0 || c.num_kv_heads <= 0 || c.num_heads % c.num_kv_heads != 0)
    r.fail("num_attention_heads (" + std::to_string(c.num_heads) + ") must be a positive multiple of num_key_value_heads (" +
           std::to_string(c.num_kv_heads) + ")");
  if (r.has("head_dim")) {
    c.head_dim = r.get_int("head_dim");
  } else {
    if (c.hidden_size % c.num_heads != 0)
      r.fail("no head_dim, and hidden_size is not a multiple of num_attention_heads");
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (c.head_dim <= 0 || c.head_dim % 2 != 0) r.fail("head_dim must be a positive even number");
  c.attention = AttentionKind::GQA;
}

void parse_rope(const ConfigReader& r, ModelConfig& c) {
  // transformers 5: "rope_parameters": {"rope_theta", "rope_type", ...}; older: top-level rope_theta and
  // an optional "rope_scaling" object whose kind is "rope_type" or (oldest) "type".
  const json* rp = nullptr;
  if (r.has("rope_parameters")) {
    rp = &r.j["rope_parameters"];
    if (!rp->is_object()) r.fail("\"rope_parameters\" must be an object");
    if (!rp->contains("rope_type") && !rp->contains("rope_theta") && !rp->contains("type"))
      r.fail("\"rope_parameters\" per layer type is not supported");
  }
  const json* sc = rp;
  if (!sc && r.has("rope_scaling")) {
    sc = &r.j["rope_scaling"];
    if (!sc->is_object()) r.fail("\"rope_scaling\" must be an object or null");
  }
  RopeConfig& rope = c.rope;
  rope.theta = r.get_double("rope_theta", 10000.0);
  if (rp && rp->contains("rope_theta") && !(*rp)["rope_theta"].is_null()) {
    if (!(*rp)["rope_theta"].is_number())
      r.fail("\"rope_parameters.rope_theta\" must be a number, got " + (*rp)["rope_theta"].dump());
    rope.theta = (*rp)["rope_theta"].get<double>();
  }
  rope.partial_rotary_factor = r.get_double("partial_rotary_factor", 1.0);
  if (!sc) return;

  const std::string where = rp ? "rope_parameters" : "rope_scaling";
  auto num = [&](const char* key, double fallback) {
    if (!sc->contains(key) || (*sc)[key].is_null()) return fallback;
    if (!(*sc)[key].is_number()) r.fail("\"" + where + "." + key + "\" must be a number");
    return (*sc)[key].get<double>();
  };
  std::string type = "default";
  if (sc->contains("rope_type") && (*sc)["rope_type"].is_string()) type = (*sc)["rope_type"].get<std::string>();
  else if (sc->contains("type") && (*sc)["type"].is_string()) type = (*sc)["type"].get<std::string>();
  rope.type = type;
  rope.partial_rotary_factor = num("partial_rotary_factor", rope.partial_rotary_factor);
  if (type == "default") return;
  if (type == "linear") {
    rope.factor = num("factor", 0);
    if (rope.factor <= 0) r.fail(where + ": linear RoPE scaling needs a positive \"factor\"");
    return;
  }
  if (type == "yarn") {
    rope.factor = num("factor", 0);
    if (rope.factor <= 0) r.fail(where + ": yarn RoPE scaling needs a positive \"factor\"");
    rope.original_max_position = num("original_max_position_embeddings", 0);
    // transformers falls back to max_position_embeddings when the original length is not given.
    if (rope.original_max_position <= 0) rope.original_max_position = c.max_position_embeddings;
    rope.beta_fast = num("beta_fast", 32);
    rope.beta_slow = num("beta_slow", 1);
    rope.mscale = num("mscale", 1);
    rope.mscale_all_dim = num("mscale_all_dim", 0);
    rope.attention_factor = num("attention_factor", 0);
    if (sc->contains("truncate") && (*sc)["truncate"].is_boolean()) rope.truncate = (*sc)["truncate"].get<bool>();
    return;
  }
  if (type == "longrope") {
    // Phi-3 / Phi-3.5: per-frequency factors for the original context (short) and beyond it (long).
    auto factors = [&](const char* key) {
      if (!sc->contains(key) || !(*sc)[key].is_array() || (*sc)[key].empty())
        r.fail(where + ": longrope RoPE scaling needs a non-empty \"" + std::string(key) + "\" list");
      std::vector<double> f;
      for (const auto& v : (*sc)[key]) {
        if (!v.is_number() || !(v.get<double>() > 0) || !std::isfinite(v.get<double>()))
          r.fail(where + "." + key + ": every factor must be a positive number, got " + v.dump());
        f.push_back(v.get<double>());
      }
      return f;
    };
    rope.short_factor = factors("short_factor");
    rope.long_factor = factors("long_factor");
    if (rope.short_factor.size() != rope.long_factor.size())
      r.fail(where + ": \"short_factor\" and \"long_factor\" differ in length (" + std::to_string(rope.short_factor.size()) +
             " and " + std::to_string(rope.long_factor.size()) + ")");
    rope.original_max_position = num("original_max_position_embeddings", 0);
    if (rope.original_max_position <= 0) rope.original_max_position = r.get_double("original_max_position_embeddings", 0);
    if (rope.original_max_position <= 0) rope.original_max_position = c.max_position_embeddings;
    if (!(rope.original_max_position > 0))
      r.fail(where + ": longrope RoPE scaling needs \"original_max_position_embeddings\"");
    rope.short_mscale = num("short_mscale", 0);
    rope.long_mscale = num("long_mscale", 0);
    rope.attention_factor = num("attention_factor", 0);
    if (rope.short_mscale < 0 || rope.long_mscale < 0 || rope.attention_factor < 0)
      r.fail(where + ": longrope mscale / attention_factor must not be negative");
    return;
  }
  r.fail(where + ": RoPE type '" + type + "' is not supported (supported: default, linear, yarn, longrope)");
}

void parse_qwen_moe_layers(const ConfigReader& r, ModelConfig& c) {
  const int step = r.get_int("decoder_sparse_step", 1);
  if (step <= 0) r.fail("\"decoder_sparse_step\" must be positive");
  std::vector<int> dense;
  if (r.has("mlp_only_layers")) {
    if (!r.j["mlp_only_layers"].is_array()) r.fail("\"mlp_only_layers\" must be a list of layer indices");
    for (const auto& x : r.j["mlp_only_layers"]) {
      int v;
      if (!to_int(x, v) || v < 0 || v >= c.num_layers)
        r.fail("\"mlp_only_layers\" entry " + x.dump() + " is not a layer index below num_hidden_layers");
      dense.push_back(v);
    }
  }
  c.layer_is_moe.assign(size_t(c.num_layers), false);
  for (int i = 0; i < c.num_layers; ++i)
    c.layer_is_moe[size_t(i)] = c.num_experts > 0 && (i + 1) % step == 0 &&
                                std::find(dense.begin(), dense.end(), i) == dense.end();
}

bool read_layer_types(const ConfigReader& r, ModelConfig& c) {
  c.layer_sliding.assign(size_t(c.num_layers), false);
  if (!r.has("layer_types")) return false;
  const json& lt = r.j["layer_types"];
  if (!lt.is_array() || lt.size() != size_t(c.num_layers)) r.fail("\"layer_types\" must list every layer");
  for (size_t i = 0; i < lt.size(); ++i) {
    if (!lt[i].is_string()) r.fail("\"layer_types\" entries must be strings");
    const std::string& t = lt[i].get_ref<const std::string&>();
    if (t != "sliding_attention" && t != "full_attention")
      r.fail("\"layer_types\" entry '" + t + "' is not sliding_attention or full_attention");
    c.layer_sliding[i] = t == "sliding_attention";
  }
  return true;
}

void reject_qwen_sliding_window(const ConfigReader& r, const ModelConfig& c) {
  if (!r.get_bool("use_sliding_window", false)) return;
  const int w = r.get_int("sliding_window", 0);
  if (w > 0 && w < c.max_position_embeddings)
    r.fail("use_sliding_window with sliding_window " + std::to_string(w) + " < max_position_embeddings " +
           std::to_string(c.max_position_embeddings) + " is not supported (the engine attends to the full context)");
}

// ---- WeightBinder ------------------------------------------------------------------------------

WeightBinder::WeightBinder(WeightStore& store, const ModelConfig& cfg) : m_store(store), m_cfg(cfg) {}

void WeightBinder::release(const TensorRef& t) {
  if (t.valid()) m_store.release(t.name);
}

bool WeightBinder::has(const std::string& name) const { return m_store.contains(name); }

static std::string dims_text(std::initializer_list<Dim> shape) {
  // "num_experts=4, hidden_size=64", each label once.
  std::string s;
  std::vector<std::string> seen;
  for (const Dim& d : shape) {
    if (std::find(seen.begin(), seen.end(), d.label) != seen.end()) continue;
    seen.push_back(d.label);
    s += (s.empty() ? "" : ", ") + d.label + "=" + std::to_string(d.value);
  }
  return s;
}

TensorRef WeightBinder::check(const std::string& name, std::initializer_list<Dim> shape, const DType* packed) {
  const SafetensorsEntry* e = m_store.find(name);
  if (!e) return {};
  const std::string& file = m_store.file_of(name);
  if (packed && e->dtype != *packed)
    throw Error(file + ": tensor '" + name + "' has dtype " + dtype_name(e->dtype) + "; expected " + dtype_name(*packed));
  if (!packed && e->dtype != DType::F32 && e->dtype != DType::BF16 && e->dtype != DType::F16 && e->dtype != DType::F8_E4M3)
    throw Error(file + ": tensor '" + name + "' has dtype " + dtype_name(e->dtype) +
                "; weights must be F32, BF16, F16 or block-scaled F8_E4M3");
  bool ok = e->shape.size() == shape.size();
  size_t i = 0;
  for (const Dim& d : shape) {
    if (ok && e->shape[i] != d.value) ok = false;
    ++i;
  }
  if (!ok) {
    std::vector<int64_t> want;
    for (const Dim& d : shape) want.push_back(d.value);
    throw Error(file + ": " + name + ": shape " + shape_string(e->shape) + " but config says " + dims_text(shape) +
                " (expected " + shape_string(want) + ")");
  }
  m_used.insert(name);
  if (!packed && e->dtype == DType::F8_E4M3) return fp8_matrix(name, file);
  return m_store.get(name);
}

// The scale tensor of an FP8 weight: "<x>.weight" -> "<x>.weight_scale_inv" (quant_method fp8: DeepSeek-V3,
// Qwen3-FP8, ...) or "<x>.weight_scale" (compressed-tensors).
static std::string fp8_scale_name(const ModelConfig& c, const std::string& name) {
  return name + (c.fp8_method == "compressed-tensors" ? "_scale" : "_scale_inv");
}

TensorRef WeightBinder::fp8_matrix(const std::string& name, const std::string& file) {
  const TensorRef q = m_store.get(name);
  const std::string what = file + ": FP8 tensor '" + name + "'";
  if (q.shape.size() != 2)
    throw Error(what + " has shape " + shape_string(q.shape) +
                "; FP8 weights are read as 2-D matrices (per-expert tensors), not fused or 1-D tensors");
  if (m_cfg.fp8_method.empty())
    throw Error(what + ": config.json has no FP8 quantization_config (quant_method \"fp8\" with weight_block_size, "
                "or compressed-tensors with 8-bit float weights), so the scales of its blocks are unknown");
  // Which scale each weight takes: block (r / bn, k / bk) of an SR x SC grid; a channel is a block of one row
  // spanning all columns, a whole-tensor scale a single block.
  const int64_t R = q.shape[0], K = q.shape[1];
  const bool block = m_cfg.fp8_strategy == "block", channel = m_cfg.fp8_strategy == "channel";
  const int64_t bn = block ? m_cfg.fp8_block_rows : channel ? 1 : std::max<int64_t>(R, 1);
  const int64_t bk = block ? m_cfg.fp8_block_cols : std::max<int64_t>(K, 1);
  const int64_t SR = (R + bn - 1) / bn, SC = (K + bk - 1) / bk;
  const std::string sname = fp8_scale_name(m_cfg, name);
  const SafetensorsEntry* se = m_store.find(sname);
  if (!se) throw Error(what + " has no scale tensor '" + sname + "'");
  const std::string& sfile = m_store.file_of(sname);
  if (se->dtype != DType::F32 && se->dtype != DType::BF16 && se->dtype != DType::F16)
    throw Error(sfile + ": scale tensor '" + sname + "' has dtype " + dtype_name(se->dtype) + "; expected F32, BF16 or F16");
  const std::vector<int64_t> want{SR, SC};
  int64_t sn = 1;
  for (auto d : se->shape) sn *= d;
  const bool shape_ok = se->shape == want || (channel && se->shape == std::vector<int64_t>{R}) ||
                        (!block && !channel && sn == 1 && se->shape.size() <= 1);
  if (!shape_ok)
    throw Error(sfile + ": scale tensor '" + sname + "' has shape " + shape_string(se->shape) + " but " + name + " " +
                shape_string(q.shape) +
                (block ? " with weight_block_size [" + std::to_string(bn) + ", " + std::to_string(bk) + "]"
                       : " with " + m_cfg.fp8_strategy + " scales") +
                " needs " + shape_string(want));
  // compressed-tensors' static activation scales: understood, not used (activations stay fp32).
  if (name.size() > 6 && name.compare(name.size() - 6, 6, "weight") == 0) {
    const std::string input_scale = name.substr(0, name.size() - 6) + "input_scale";
    if (m_store.contains(input_scale)) {
      m_used.insert(input_scale);
      ++m_fp8_input_scales;
    }
  }
  m_used.insert(sname);
  ++m_fp8_matrices;
  if (!convert) return q;  // LoadMode::Inspect: shapes and dtypes checked, data left as stored

  const std::vector<float> scales = m_store.get(sname).to_f32();
  for (size_t i = 0; i < scales.size(); ++i)
    if (!std::isfinite(scales[i]) || std::fabs(scales[i]) > 1e30f)
      throw Error(sfile + ": scale tensor '" + sname + "' holds " + std::to_string(scales[i]) + " at block [" +
                  std::to_string(int64_t(i) / SC) + ", " + std::to_string(int64_t(i) % SC) + "]");
  const size_t rb = fp8::row_bytes(K);
  std::shared_ptr<std::byte[]> buf(new std::byte[size_t(R) * rb]);
  const auto* codes = reinterpret_cast<const uint8_t*>(q.data);
  for (int64_t r = 0; r < R; ++r) {
    const uint8_t* src = codes + size_t(r) * size_t(K);
    uint8_t* dst = reinterpret_cast<uint8_t*>(buf.get()) + size_t(r) * rb;
    int nan = 0;
    for (int64_t k = 0; k < K; ++k) nan |= (src[k] & 0x7F) == 0x7F;
    if (nan)
      for (int64_t k = 0; k < K; ++k)
        if (fp8::e4m3_is_nan(src[k]))
          throw Error(what + " holds a NaN code (0x" + (src[k] == 0xFF ? std::string("FF") : std::string("7F")) +
                      ") at [" + std::to_string(r) + ", " + std::to_string(k) + "]");
    std::memcpy(dst, src, size_t(K));
    for (int64_t g = 0; g < fp8::groups(K); ++g) {
      const float s = scales[size_t((r / bn) * SC + (g * fp8::kGroup) / bk)];
      std::memcpy(dst + K + 4 * g, &s, 4);
    }
  }
  m_store.release(name);
  m_store.release(sname);
  TensorRef t;
  t.name = name;
  t.dtype = DType::FP8_B128;
  t.shape = {R, K};
  t.data = buf.get();
  t.nbytes = size_t(R) * rb;
  m_owned.push_back(std::move(buf));
  return t;
}

TensorRef WeightBinder::need(const std::string& name, std::initializer_list<Dim> shape) {
  TensorRef t = check(name, shape);
  if (!t.valid() && !m_store.contains(name)) m_missing.push_back(name);
  return t;
}

TensorRef WeightBinder::optional(const std::string& name, std::initializer_list<Dim> shape) {
  return check(name, shape);
}

TensorRef WeightBinder::need_packed(const std::string& name, std::initializer_list<Dim> shape, DType dtype) {
  TensorRef t = check(name, shape, &dtype);
  if (!t.valid() && !m_store.contains(name)) m_missing.push_back(name);
  return t;
}

const std::string& WeightBinder::file_of(const std::string& name) const { return m_store.file_of(name); }

void WeightBinder::ignore(const std::string& name) {
  if (m_store.contains(name)) m_used.insert(name);
}

FfnWeights WeightBinder::ffn(const std::string& prefix, int64_t width, const char* width_label, bool mixtral_names) {
  const Dim H{m_cfg.hidden_size, "hidden_size"};
  const Dim I{width, width_label};
  FfnWeights f;
  f.gate = need(prefix + (mixtral_names ? "w1.weight" : "gate_proj.weight"), {I, H});
  f.up = need(prefix + (mixtral_names ? "w3.weight" : "up_proj.weight"), {I, H});
  f.down = need(prefix + (mixtral_names ? "w2.weight" : "down_proj.weight"), {H, I});
  return f;
}

std::vector<FfnWeights> WeightBinder::fused_experts(const std::string& gate_up, const std::string& down, int64_t I,
                                                    const char* I_label) {
  const int E = m_cfg.num_experts;
  std::vector<FfnWeights> out(static_cast<size_t>(E));
  const Dim Ed{E, "num_experts"}, Hd{m_cfg.hidden_size, "hidden_size"};
  TensorRef gu = need(gate_up, {Ed, Dim{2 * I, std::string("2*") + I_label}, Hd});
  TensorRef dn = need(down, {Ed, Hd, Dim{I, I_label}});
  if (!gu.valid() || !dn.valid()) return out;
  auto expert = [](const TensorRef& t, int e) {
    TensorRef r = t.slice_rows(e, 1);
    r.shape.erase(r.shape.begin());
    r.name = t.name + "[" + std::to_string(e) + "]";
    return r;
  };
  for (int e = 0; e < E; ++e) {
    TensorRef g = expert(gu, e);
    out[size_t(e)].gate = g.slice_rows(0, I);
    out[size_t(e)].up = g.slice_rows(I, I);
    out[size_t(e)].down = expert(dn, e);
  }
  return out;
}

FfnWeights WeightBinder::fused_ffn(const std::string& gate_up, const std::string& down, int64_t I, const char* I_label) {
  const Dim Hd{m_cfg.hidden_size, "hidden_size"};
  FfnWeights f;
  TensorRef gu = need(gate_up, {Dim{2 * I, std::string("2*") + I_label}, Hd});
  f.down = need(down, {Hd, Dim{I, I_label}});
  if (gu.valid()) {
    f.gate = gu.slice_rows(0, I);
    f.up = gu.slice_rows(I, I);
  }
  return f;
}

std::vector<FfnWeights> WeightBinder::experts(const std::string& px, int64_t I, const char* I_label,
                                              bool mixtral_names) {
  if (has(px + "gate_up_proj") || has(px + "down_proj"))
    return fused_experts(px + "gate_up_proj", px + "down_proj", I, I_label);
  std::vector<FfnWeights> out(static_cast<size_t>(m_cfg.num_experts));
  for (int e = 0; e < m_cfg.num_experts; ++e) out[size_t(e)] = ffn(px + std::to_string(e) + ".", I, I_label, mixtral_names);
  return out;
}

void WeightBinder::finish(std::vector<std::string>& warnings) {
  if (!m_missing.empty()) {
    std::string list;
    for (size_t i = 0; i < m_missing.size() && i < 8; ++i) list += (i ? ", '" : "'") + m_missing[i] + "'";
    if (m_missing.size() > 8) list += ", ...";
    throw Error(m_store.location() + ": missing " + std::to_string(m_missing.size()) +
                " tensor(s) required by config.json (" + family_name(m_cfg.family) + "): " + list);
  }
  // A checkpoint tensor nothing binds means the forward pass would silently ignore part of the model
  // (or config.json describes a different model), so it is an error. Known harmless extras are not.
  static const std::regex layer_re(R"(^model\.layers\.(\d+)\.)");
  std::vector<std::string> unexpected;
  size_t tolerated_extra_layers = 0, tolerated_buffers = 0;
  for (const auto& name : m_store.names()) {
    if (m_used.count(name)) continue;
    std::smatch m;
    if (name.size() >= 9 && name.compare(name.size() - 9, 9, ".inv_freq") == 0) {
      ++tolerated_buffers;
    } else if (std::regex_search(name, m, layer_re) && std::stoll(m[1].str()) >= m_cfg.num_layers) {
      ++tolerated_extra_layers;
    } else {
      unexpected.push_back(name);
    }
  }
  if (!unexpected.empty()) {
    std::string list;
    for (size_t i = 0; i < unexpected.size() && i < 8; ++i) list += (i ? ", '" : "'") + unexpected[i] + "'";
    if (unexpected.size() > 8) list += ", ...";
    throw Error(m_store.location() + ": " + std::to_string(unexpected.size()) + " unexpected tensor(s) that the " +
                family_name(m_cfg.family) + " layout described by config.json does not use: " + list);
  }
  if (tolerated_buffers)
    warnings.push_back(m_store.location() + ": ignored " + std::to_string(tolerated_buffers) +
                       " rotary inv_freq buffer(s) (recomputed from config)");
  if (tolerated_extra_layers)
    warnings.push_back(m_store.location() + ": ignored " + std::to_string(tolerated_extra_layers) +
                       " tensor(s) of layers >= num_hidden_layers (" + std::to_string(m_cfg.num_layers) +
                       "), e.g. a multi-token-prediction module");
  m_bound_params = 0;
  for (const auto& name : m_used) {
    const SafetensorsEntry* e = m_store.find(name);
    if (!e || (name.size() >= 9 && name.compare(name.size() - 9, 9, ".inv_freq") == 0)) continue;
    int64_t n = 1;
    for (auto d : e->shape) n *= d;
    m_bound_params += n;
  }
}

// ---- common GQA binding ------------------------------------------------------------------------

void bind_common_gqa(const ModelConfig& c, WeightBinder& b, ModelWeights& w) {
  const Dim V{c.vocab_size, "vocab_size"}, H{c.hidden_size, "hidden_size"};
  w.embed = b.need("model.embed_tokens.weight", {V, H});
  w.final_norm = b.need("model.norm.weight", {H});
  if (c.layer_norm) w.final_norm_bias = b.need("model.norm.bias", {H});
  if (c.tie_word_embeddings) {
    w.lm_head = w.embed;
    b.ignore("lm_head.weight");  // some tied saves still carry a copy; the embedding is what HF uses
  } else {
    w.lm_head = b.need("lm_head.weight", {V, H});
  }
  if (c.lm_head_bias) w.lm_head_bias = b.need("lm_head.bias", {V});
  const Dim Q{int64_t(c.num_heads) * c.head_dim, "num_attention_heads*head_dim"};
  const Dim KV{int64_t(c.num_kv_heads) * c.head_dim, "num_key_value_heads*head_dim"};
  const Dim HD{c.head_dim, "head_dim"};
  w.layers.assign(size_t(c.num_layers), LayerWeights{});
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = layer_prefix(i);
    LayerWeights& L = w.layers[size_t(i)];
    L.input_norm = b.need(p + "input_layernorm.weight", {H});
    L.post_attention_norm = b.need(p + "post_attention_layernorm.weight", {H});
    if (c.layer_norm) {
      L.input_norm_bias = b.need(p + "input_layernorm.bias", {H});
      L.post_attention_norm_bias = b.need(p + "post_attention_layernorm.bias", {H});
    }
    AttentionWeights& a = L.attn;
    a.q = b.need(p + "self_attn.q_proj.weight", {Q, H});
    a.k = b.need(p + "self_attn.k_proj.weight", {KV, H});
    a.v = b.need(p + "self_attn.v_proj.weight", {KV, H});
    a.o = b.need(p + "self_attn.o_proj.weight", {H, Q});
    if (c.qkv_bias) {
      a.q_bias = b.need(p + "self_attn.q_proj.bias", {Q});
      a.k_bias = b.need(p + "self_attn.k_proj.bias", {KV});
      a.v_bias = b.need(p + "self_attn.v_proj.bias", {KV});
    }
    if (c.o_bias) a.o_bias = b.need(p + "self_attn.o_proj.bias", {H});
    if (c.qk_norm_full) {
      a.q_norm = b.need(p + "self_attn.q_norm.weight", {Q});
      a.k_norm = b.need(p + "self_attn.k_norm.weight", {KV});
    }
    if (c.qk_norm_per_head) {
      a.q_norm = b.need(p + "self_attn.q_norm.weight", {HD});
      a.k_norm = b.need(p + "self_attn.k_norm.weight", {HD});
    }
    L.is_moe = c.layer_is_moe.empty() ? true : bool(c.layer_is_moe[size_t(i)]);
  }
}

void bind_shared_experts_mlp(const ModelConfig& c, WeightBinder& b, int layer, LayerWeights& L,
                             const SharedExpertsMoeNames& names) {
  const std::string m = layer_prefix(layer) + "mlp.";
  if (!L.is_moe) {
    L.mlp = b.ffn(m, c.intermediate_size, "intermediate_size");
    return;
  }
  const Dim E{c.num_experts, names.experts_key}, H{c.hidden_size, "hidden_size"};
  L.moe.router = b.need(m + "gate.weight", {E, H});
  if (names.bias)
    L.moe.correction_bias = names.bias_row ? b.need(m + names.bias, {Dim{1, "1"}, E}) : b.need(m + names.bias, {E});
  L.moe.experts = b.experts(m + "experts.", c.moe_intermediate_size, "moe_intermediate_size");
  if (c.num_shared_experts > 0) L.moe.shared = b.ffn(m + "shared_experts.", c.shared_intermediate_size, names.shared_width);
}

}  // namespace moescope::families
