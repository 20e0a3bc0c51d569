// Model::load: config.json + safetensors (single or sharded) -> bound ModelWeights, with progress and
// cancellation. Tensor names per architecture live in engine/model/families/.
#include "engine/model/model.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "engine/checkpoint/weight_store.h"
#include "engine/model/families/family.h"
#include "engine/util/error.h"

namespace moescope {

namespace fs = std::filesystem;

Model::Model(ModelConfig config, std::shared_ptr<WeightStore> store, ModelWeights weights, std::string dir)
    : m_config(std::move(config)), m_store(std::move(store)), m_weights(std::move(weights)), m_dir(std::move(dir)) {}

namespace {

void report(LoadProgress* p, double f, const std::string& what) {
  if (p && !p->report(f, what)) throw Cancelled();
}

// Models loaded in this process, so that sessions opening the same checkpoint (the GUI's main session, its
// prompt-suite and compare runners) share one copy of the weights instead of holding one each. An entry
// is valid while the model lives and the directory's files are unchanged (names, sizes, mtimes).
struct CacheEntry {
  std::string fingerprint;
  std::weak_ptr<const Model> model;
};
std::mutex g_cache_mutex;
std::map<std::pair<std::string, int>, CacheEntry> g_cache;

std::string fingerprint_of(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> parts;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    const std::string name = e.path().filename().string();
    if (name != "config.json" && name.find(".safetensors") == std::string::npos) continue;
    const auto size = e.file_size(ec);
    const auto mtime = e.last_write_time(ec).time_since_epoch().count();
    parts.push_back(name + ":" + std::to_string(size) + ":" + std::to_string(mtime));
  }
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const auto& p : parts) out += p + "\n";
  return out;
}

using BindFn = void (*)(const ModelConfig&, families::WeightBinder&, ModelWeights&);

BindFn binder_for(Family f) {
  switch (f) {
    case Family::Mixtral: return families::bind_mixtral;
    case Family::OLMoE: return families::bind_olmoe;
    case Family::Qwen2Moe: return families::bind_qwen2_moe;
    case Family::Qwen3Moe: return families::bind_qwen3_moe;
    case Family::DeepSeekV2:  // same tensors as V3, without gate.e_score_correction_bias
    case Family::DeepSeekV3: return families::bind_deepseek_v3;
    case Family::Glm4Moe: return families::bind_glm4_moe;
    case Family::Ernie45Moe: return families::bind_ernie4_5_moe;
    case Family::GptOss: return families::bind_gpt_oss;
    case Family::GraniteMoe: return families::bind_granitemoe;
    case Family::Dots1: return families::bind_dots1;
    case Family::PhiMoE: return families::bind_phimoe;
  }
  return nullptr;
}

template <class F>
void for_each_tensor(const ModelWeights& w, F&& f) {
  auto ffn = [&](const FfnWeights& x) {
    for (const TensorRef* t : {&x.gate, &x.up, &x.down, &x.gate_bias, &x.up_bias, &x.down_bias}) f(*t);
  };
  for (const TensorRef* t : {&w.embed, &w.final_norm, &w.final_norm_bias, &w.lm_head, &w.lm_head_bias}) f(*t);
  for (const auto& L : w.layers) {
    f(L.input_norm);
    f(L.post_attention_norm);
    f(L.input_norm_bias);
    f(L.post_attention_norm_bias);
    const auto& a = L.attn;
    for (const TensorRef* t : {&a.q, &a.k, &a.v, &a.o, &a.q_bias, &a.k_bias, &a.v_bias, &a.o_bias, &a.q_norm,
                               &a.k_norm, &a.sinks, &a.q_a, &a.q_a_norm, &a.q_b, &a.kv_a, &a.kv_a_norm, &a.kv_b})
      f(*t);
    ffn(L.mlp);
    f(L.moe.router);
    f(L.moe.router_bias);
    f(L.moe.correction_bias);
    for (const auto& e : L.moe.experts) ffn(e);
    ffn(L.moe.shared);
    f(L.moe.shared_gate);
  }
}

}  // namespace

std::shared_ptr<const Model> Model::load(const std::string& path, LoadProgress* progress, WeightResidency residency,
                                         LoadMode mode) {
  std::error_code ec;
  // A path to config.json itself names its directory.
  std::string dir = path;
  if (fs::is_regular_file(path, ec) && fs::path(path).filename() == "config.json")
    dir = fs::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  if (!fs::is_directory(dir, ec)) throw Error(path + ": not a checkpoint directory");
  const fs::path cfg_path = fs::path(dir) / "config.json";
  if (!fs::exists(cfg_path, ec)) throw Error(dir + ": no config.json in this directory");

  const std::pair<std::string, int> key{dir, int(residency) * 2 + int(mode)};  // as given: directory() reports it
  const std::string fingerprint = fingerprint_of(dir);
  {
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    auto it = g_cache.find(key);
    if (it != g_cache.end() && it->second.fingerprint == fingerprint)
      if (auto shared = it->second.model.lock()) {
        report(progress, 1.0, "loaded (already open in this process)");
        return shared;
      }
  }

  report(progress, 0.0, "reading config.json");
  ModelConfig cfg = load_model_config(cfg_path.string());

  WeightStore::Progress wp;
  std::string current;
  double fraction = 0.05;  // never goes back: files and bytes interleave
  wp.on_file = [&](size_t i, size_t n, const std::string& file) {
    current = fs::path(file).filename().string();
    if (n > 1) current += " (" + std::to_string(i + 1) + "/" + std::to_string(n) + ")";
    report(progress, fraction, "opening " + current);
  };
  wp.on_bytes = [&](uint64_t done, uint64_t total) {
    fraction = std::max(fraction, 0.05 + 0.6 * (total ? double(done) / double(total) : 1.0));
    report(progress, fraction,
           "reading " + current + ": " + std::to_string(done >> 20) + " / " + std::to_string(total >> 20) + " MiB");
  };
  auto store = WeightStore::open_dir(dir, wp, residency);
  for (const auto& w : store->warnings()) cfg.warnings.push_back(w);

  report(progress, 0.7, "binding " + std::to_string(store->names().size()) + " tensors");
  ModelWeights weights;
  families::WeightBinder binder(*store, cfg);
  binder.convert = mode == LoadMode::Run;
  binder.on_progress = [&](double f, const std::string& what) { report(progress, 0.7 + 0.29 * f, "converting " + what); };
  binder_for(cfg.family)(cfg, binder, weights);
  binder.finish(cfg.warnings);
  for (auto& buf : binder.take_owned()) weights.owned.push_back(std::move(buf));
  if (binder.fp8_matrices() > 0) {
    const std::string scales =
        cfg.fp8_strategy == "block" ? "[" + std::to_string(cfg.fp8_block_rows) + ", " + std::to_string(cfg.fp8_block_cols) +
                                          "] block scales"
        : cfg.fp8_strategy == "channel" ? std::string("per-channel scales")
                                        : std::string("one scale per matrix");
    std::string text = std::to_string(binder.fp8_matrices()) + " FP8 (E4M3) matrices with " + scales +
                       (cfg.fp8_method == "compressed-tensors" ? " (compressed-tensors) " : " ") +
                       (mode == LoadMode::Run ? "kept in FP8 (1 byte per weight + one fp32 scale per 128 columns), each "
                                                "weight widened to code x scale in fp32 inside the kernels (transformers' "
                                                "dequantised values); activations stay fp32"
                                              : "(kept in FP8 when the model runs: 1 byte per weight, widened to code x "
                                                "scale in fp32 inside the kernels)");
    if (binder.fp8_input_scales() > 0)
      text += "; " + std::to_string(binder.fp8_input_scales()) +
              " static activation scales (input_scale) are not used: activations are not quantised";
    weights.conversions.push_back(text);
  }
  report(progress, 1.0, "loaded");
  auto model = std::make_shared<const Model>(std::move(cfg), std::move(store), std::move(weights), dir);
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  for (auto it = g_cache.begin(); it != g_cache.end();)  // drop entries of models that are gone
    it = it->second.model.expired() ? g_cache.erase(it) : std::next(it);
  g_cache[key] = CacheEntry{fingerprint, model};
  return model;
}

std::vector<std::string> Model::dtypes() const {
  std::set<std::string> s;
  for_each_tensor(m_weights, [&](const TensorRef& t) {
    if (t.valid()) s.insert(dtype_name(t.dtype));
  });
  return {s.begin(), s.end()};
}

void for_each_weight(const ModelWeights& w, const std::function<void(const TensorRef&)>& f) { for_each_tensor(w, f); }

int64_t count_weight_parameters(const ModelWeights& w) {
  // Distinct storage only: a tied lm_head is the embedding, fused experts are disjoint views.
  std::set<std::pair<const std::byte*, size_t>> seen;
  int64_t n = 0;
  for_each_tensor(w, [&](const TensorRef& t) {
    if (t.valid() && seen.insert({t.data, t.nbytes}).second) n += t.numel();
  });
  return n + w.unconverted_params;
}

}  // namespace moescope
