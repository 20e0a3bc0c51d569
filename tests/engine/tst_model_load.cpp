// Model::load on every fixture family and the demo (shapes, dtypes, layer kinds and parameter counts
// against meta.json / training_report.json / an independent header read), plus malformed checkpoints
// written into temp dirs, checking the error names the file and the problem.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/checkpoint/weight_store.h"
#include "engine/model/model.h"
#include "engine/util/error.h"
#include "tests/support/fixtures.h"
#include "tests/support/reference.h"

using namespace moescope;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json read_json(const std::string& path) { return json::parse(slurp(path)); }

// Independent of the engine's reader: parse the safetensors header by hand, name -> shape.
std::map<std::string, std::vector<int64_t>> header_shapes(const std::string& file) {
  const std::string bytes = slurp(file);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  json h = json::parse(bytes.substr(8, n));
  std::map<std::string, std::vector<int64_t>> out;
  for (auto it = h.begin(); it != h.end(); ++it)
    if (it.key() != "__metadata__") out[it.key()] = it.value()["shape"].get<std::vector<int64_t>>();
  return out;
}

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

class FixtureLoad : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureLoad, LoadsWithShapesAndCountsOfMeta) {
  const std::string family = GetParam();
  const json meta = read_json(test::fixtures_dir() + "/models/" + family + "/meta.json");
  const json cs = meta["config_summary"];
  auto model = Model::load(test::model_fixture(family));
  const ModelConfig& c = model->config();
  const ModelWeights& w = model->weights();

  EXPECT_EQ(family_name(c.family), family);
  EXPECT_EQ(c.vocab_size, cs["vocab_size"].get<int>());
  EXPECT_EQ(c.hidden_size, cs["hidden_size"].get<int>());
  EXPECT_EQ(c.num_layers, cs["num_hidden_layers"].get<int>());
  EXPECT_EQ(c.num_heads, cs["num_attention_heads"].get<int>());
  EXPECT_EQ(c.num_experts, cs.value("num_experts", cs.value("n_routed_experts", cs.value("moe_num_experts", cs.value("num_local_experts", -1)))));
  EXPECT_EQ(c.num_experts_per_tok, cs.value("num_experts_per_tok", cs.value("moe_k", -1)));
  EXPECT_EQ(c.moe_layer_indices(), meta["moe_layers"].get<std::vector<int>>());
  EXPECT_EQ(model->dtypes(), std::vector<std::string>{"F32"});

  // Every tensor of the file (names from meta.json) is bound, with the shape the header states.
  const auto shapes = header_shapes(test::model_fixture(family) + "/model.safetensors");
  std::set<std::string> meta_names;
  for (const auto& n : meta["model_tensor_names"]) meta_names.insert(n.get<std::string>());
  std::set<std::string> file_names;
  for (const auto& kv : shapes) file_names.insert(kv.first);
  EXPECT_EQ(meta_names, file_names);
  int64_t file_params = 0;
  for (const auto& kv : shapes) file_params += numel(kv.second);

  const ParamCounts pc = count_parameters(c);
  EXPECT_EQ(int64_t(pc.total), file_params) << "architecture count vs tensors in the file";
  EXPECT_EQ(count_weight_parameters(w), file_params) << "bound weights vs tensors in the file";

  ASSERT_EQ(w.layers.size(), size_t(c.num_layers));
  EXPECT_EQ(w.embed.shape, (std::vector<int64_t>{c.vocab_size, c.hidden_size}));
  EXPECT_EQ(w.lm_head.shape, (std::vector<int64_t>{c.vocab_size, c.hidden_size}));
  if (c.tie_word_embeddings)
    EXPECT_EQ(w.lm_head.data, w.embed.data);  // ernie4_5_moe, as released
  else
    EXPECT_NE(w.lm_head.data, w.embed.data);
  for (int i = 0; i < c.num_layers; ++i) {
    const LayerWeights& L = w.layers[size_t(i)];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    EXPECT_EQ(L.input_norm.shape, shapes.at(p + "input_layernorm.weight"));
    EXPECT_EQ(L.is_moe, c.layer_is_moe[size_t(i)]);
    if (!L.is_moe) {
      EXPECT_EQ(L.mlp.gate.shape, shapes.at(p + "mlp.gate_proj.weight"));
      EXPECT_EQ(L.mlp.down.shape, shapes.at(p + "mlp.down_proj.weight"));
      continue;
    }
    ASSERT_EQ(L.moe.experts.size(), size_t(c.num_experts));
    const bool hub_mixtral = family == "mixtral" || family == "phimoe";  // block_sparse_moe, experts.E.w1/w3/w2
    const std::string moe = hub_mixtral ? p + "block_sparse_moe." : p + "mlp.";
    EXPECT_EQ(L.moe.router.shape, shapes.at(moe + "gate.weight"));
    EXPECT_EQ(L.moe.router.name, moe + "gate.weight");
    for (int e = 0; e < c.num_experts; ++e) {
      const std::string ep = moe + "experts." + std::to_string(e) + ".";
      const auto& x = L.moe.experts[size_t(e)];
      EXPECT_EQ(x.gate.name, ep + (hub_mixtral ? "w1.weight" : "gate_proj.weight"));
      EXPECT_EQ(x.up.name, ep + (hub_mixtral ? "w3.weight" : "up_proj.weight"));
      EXPECT_EQ(x.down.name, ep + (hub_mixtral ? "w2.weight" : "down_proj.weight"));
      EXPECT_EQ(x.gate.shape, shapes.at(x.gate.name));
      EXPECT_EQ(x.down.shape, shapes.at(x.down.name));
    }
    if (family == "qwen2_moe") {
      EXPECT_EQ(L.moe.shared.gate.shape, shapes.at(p + "mlp.shared_expert.gate_proj.weight"));
      EXPECT_EQ(L.moe.shared_gate.shape, shapes.at(p + "mlp.shared_expert_gate.weight"));
      EXPECT_TRUE(L.attn.q_bias.valid());
    }
    if (family == "deepseek_v3") {
      EXPECT_EQ(L.moe.correction_bias.shape, shapes.at(p + "mlp.gate.e_score_correction_bias"));
      EXPECT_EQ(L.moe.shared.up.shape, shapes.at(p + "mlp.shared_experts.up_proj.weight"));
    }
    if (family == "glm4_moe") {
      EXPECT_EQ(L.moe.correction_bias.shape, shapes.at(p + "mlp.gate.e_score_correction_bias"));
      EXPECT_EQ(L.moe.shared.down.shape, shapes.at(p + "mlp.shared_experts.down_proj.weight"));
      EXPECT_EQ(L.attn.q_bias.shape, shapes.at(p + "self_attn.q_proj.bias"));
      EXPECT_FALSE(L.attn.o_bias.valid());
    }
    if (family == "dots1") {  // DeepSeek-V3's MoE tensors beside Qwen3's attention
      EXPECT_EQ(L.moe.correction_bias.shape, shapes.at(p + "mlp.gate.e_score_correction_bias"));
      EXPECT_EQ(L.moe.shared.up.shape, shapes.at(p + "mlp.shared_experts.up_proj.weight"));
      EXPECT_EQ(L.attn.q_norm.shape, shapes.at(p + "self_attn.q_norm.weight"));
    }
    if (family == "phimoe") {  // LayerNorm biases and attention biases beside Mixtral's MoE tensors
      EXPECT_EQ(L.input_norm_bias.shape, shapes.at(p + "input_layernorm.bias"));
      EXPECT_EQ(L.post_attention_norm_bias.shape, shapes.at(p + "post_attention_layernorm.bias"));
      EXPECT_EQ(L.attn.o_bias.shape, shapes.at(p + "self_attn.o_proj.bias"));
    }
    if (family == "ernie4_5_moe") {
      EXPECT_EQ(L.moe.correction_bias.shape, shapes.at(p + "mlp.moe_statics.e_score_correction_bias"));
      EXPECT_EQ(L.moe.shared.up.shape, shapes.at(p + "mlp.shared_experts.up_proj.weight"));
    }
    if (family == "deepseek_v2") {
      EXPECT_FALSE(L.moe.correction_bias.valid());  // V2's router has no correction bias
      EXPECT_EQ(L.moe.shared.up.shape, shapes.at(p + "mlp.shared_experts.up_proj.weight"));
    }
  }
  if (family == "deepseek_v3") {
    const auto& a = w.layers[0].attn;
    EXPECT_EQ(a.q_a.shape, shapes.at("model.layers.0.self_attn.q_a_proj.weight"));
    EXPECT_EQ(a.q_b.shape, shapes.at("model.layers.0.self_attn.q_b_proj.weight"));
    EXPECT_EQ(a.kv_a.shape, shapes.at("model.layers.0.self_attn.kv_a_proj_with_mqa.weight"));
    EXPECT_EQ(a.kv_b.shape, shapes.at("model.layers.0.self_attn.kv_b_proj.weight"));
    EXPECT_EQ(a.kv_a_norm.shape, shapes.at("model.layers.0.self_attn.kv_a_layernorm.weight"));
    EXPECT_FALSE(a.q.valid());
  } else if (family == "deepseek_v2") {  // q_lora_rank null: a plain q_proj next to the MLA kv path
    const auto& a = w.layers[0].attn;
    EXPECT_EQ(a.q.shape, shapes.at("model.layers.0.self_attn.q_proj.weight"));
    EXPECT_FALSE(a.q_a.valid());
    EXPECT_EQ(a.kv_a.shape, shapes.at("model.layers.0.self_attn.kv_a_proj_with_mqa.weight"));
    EXPECT_EQ(a.kv_b.shape, shapes.at("model.layers.0.self_attn.kv_b_proj.weight"));
  } else {
    EXPECT_EQ(w.layers[0].attn.q.shape, shapes.at("model.layers.0.self_attn.q_proj.weight"));
    EXPECT_EQ(w.layers[0].attn.k.shape, shapes.at("model.layers.0.self_attn.k_proj.weight"));
  }
  if (family == "olmoe" || family == "qwen3_moe" || family == "glm4_moe")
    EXPECT_EQ(w.layers[0].attn.q_norm.shape, shapes.at("model.layers.0.self_attn.q_norm.weight"));
}

INSTANTIATE_TEST_SUITE_P(Families, FixtureLoad,
                         ::testing::Values("mixtral", "olmoe", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3",
                                           "glm4_moe", "ernie4_5_moe", "dots1", "phimoe"));

TEST(ModelLoad, OlmoeEosOutsideVocabularyIsAWarning) {
  auto m = Model::load(test::model_fixture("olmoe"));
  ASSERT_EQ(m->config().eos_token_ids, std::vector<int>{50279});
  bool found = false;
  for (const auto& w : m->config().warnings) found |= w.find("50279") != std::string::npos;
  EXPECT_TRUE(found);
}

TEST(ModelLoad, DemoShardedBf16MatchesTrainingReport) {
  const json report = read_json(test::demo_model() + "/training_report.json");
  auto m = Model::load(test::demo_model());
  EXPECT_EQ(m->dtypes(), std::vector<std::string>{"BF16"});
  EXPECT_EQ(m->store().files().size(), 2u);
  EXPECT_EQ(m->config().num_experts, 16);
  EXPECT_EQ(m->config().head_dim, 32);
  const ParamCounts pc = count_parameters(m->config());
  EXPECT_EQ(int64_t(pc.total), report["params_total"].get<int64_t>());
  EXPECT_EQ(int64_t(pc.active), report["params_active_per_token"].get<int64_t>());
  EXPECT_EQ(count_weight_parameters(m->weights()), report["params_total"].get<int64_t>());
  // Every tensor named in the index is bound to the shard the index names.
  const json idx = read_json(test::demo_model() + "/model.safetensors.index.json");
  const auto& L5 = m->weights().layers[5];
  const std::string name = "model.layers.5.block_sparse_moe.experts.15.w2.weight";
  EXPECT_EQ(L5.moe.experts[15].down.name, name);
  EXPECT_EQ(fs::path(m->store().file_of(name)).filename().string(), idx["weight_map"][name].get<std::string>());
}

TEST(ModelLoad, ConfigJsonPathNamesItsDirectory) {
  auto m = Model::load(test::model_fixture("mixtral") + "/config.json");
  EXPECT_EQ(m->config().num_layers, 2);
}

struct CountingProgress : LoadProgress {
  int calls = 0;
  double last = -1;
  bool monotone = true;
  int cancel_at = -1;
  bool report(double f, const std::string&) override {
    monotone &= f >= last;
    last = f;
    return ++calls != cancel_at;
  }
};

TEST(ModelLoad, ProgressReachesOneAndCancelThrows) {
  CountingProgress p;
  Model::load(test::demo_model(), &p);
  EXPECT_GE(p.calls, 3);
  EXPECT_TRUE(p.monotone);
  EXPECT_DOUBLE_EQ(p.last, 1.0);
  CountingProgress c;
  c.cancel_at = 2;
  EXPECT_THROW(Model::load(test::demo_model(), &c), Cancelled);
}

// ---- checkpoints written by the test (copies of fixtures with one thing changed) -----------------

namespace {

struct RawTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};
using RawFile = std::map<std::string, RawTensor>;

// Independent of the engine: reads every tensor's dtype, shape and bytes by hand.
RawFile read_raw(const std::string& file) {
  const std::string all = slurp(file);
  uint64_t n = 0;
  std::memcpy(&n, all.data(), 8);
  const json h = json::parse(all.substr(8, n));
  RawFile out;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const auto off = it.value()["data_offsets"].get<std::vector<uint64_t>>();
    out[it.key()] = {it.value()["dtype"].get<std::string>(), it.value()["shape"].get<std::vector<int64_t>>(),
                     all.substr(8 + n + off[0], off[1] - off[0])};
  }
  return out;
}

void write_raw(const std::string& file, const RawFile& t) {
  json h = json::object();
  std::string data;
  for (const auto& [name, r] : t) {
    h[name] = {{"dtype", r.dtype}, {"shape", r.shape}, {"data_offsets", {data.size(), data.size() + r.bytes.size()}}};
    data += r.bytes;
  }
  std::string header = h.dump();
  while (header.size() % 8) header += ' ';
  std::ofstream out(file, std::ios::binary);
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.put(char((n >> (8 * i)) & 0xff));
  out << header << data;
}

// A copy of a fixture model directory whose config and tensors the caller may edit.
struct Scratch {
  std::string dir;
  json config;
  RawFile tensors;
  explicit Scratch(const std::string& family) : dir(test::temp_dir("load-" + family)) {
    config = read_json(test::model_fixture(family) + "/config.json");
    tensors = read_raw(test::model_fixture(family) + "/model.safetensors");
  }
  std::string write() const {
    std::ofstream(dir + "/config.json") << config.dump(2);
    write_raw(dir + "/model.safetensors", tensors);
    return dir;
  }
};

std::vector<float> floats(const std::string& bytes) {
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

#define EXPECT_HAS(haystack, needle) EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

}  // namespace

TEST(ModelLoadErrors, MissingTensorNamesFileAndTensor) {
  Scratch s("qwen3_moe");
  s.tensors.erase("model.layers.1.mlp.experts.3.up_proj.weight");
  const std::string dir = s.write();
  EXPECT_HAS(error_of([&] { Model::load(dir); }),
             dir + "/model.safetensors: missing 1 tensor(s) required by config.json (qwen3_moe): "
                   "'model.layers.1.mlp.experts.3.up_proj.weight'");
}

TEST(ModelLoadErrors, UnexpectedTensorIsAnError) {
  Scratch s("olmoe");
  s.tensors["model.layers.0.mlp.experts.8.gate_proj.weight"] = s.tensors["model.layers.0.mlp.experts.7.gate_proj.weight"];
  const std::string dir = s.write();
  const std::string err = error_of([&] { Model::load(dir); });
  EXPECT_HAS(err, dir + "/model.safetensors: 1 unexpected tensor(s)");
  EXPECT_HAS(err, "'model.layers.0.mlp.experts.8.gate_proj.weight'");
}

TEST(ModelLoad, RotaryBuffersAndMtpLayerAreToleratedWithWarnings) {
  Scratch s("deepseek_v3");
  RawTensor inv{"F32", {4}, std::string(16, '\0')};
  s.tensors["model.layers.0.self_attn.rotary_emb.inv_freq"] = inv;
  // DeepSeek's MTP module is stored as layer num_hidden_layers (3 here).
  s.tensors["model.layers.3.eh_proj.weight"] = s.tensors["model.layers.0.mlp.gate_proj.weight"];
  s.tensors["model.layers.3.mlp.gate.weight"] = s.tensors["model.layers.1.mlp.gate.weight"];
  const std::string dir = s.write();
  auto m = Model::load(dir);
  std::string all;
  for (const auto& w : m->config().warnings) all += w + "\n";
  EXPECT_HAS(all, "ignored 1 rotary inv_freq");
  EXPECT_HAS(all, "ignored 2 tensor(s) of layers >= num_hidden_layers (3)");
  EXPECT_EQ(count_weight_parameters(m->weights()), int64_t(count_parameters(m->config()).total));
}

TEST(ModelLoadErrors, ShapeContradictingConfig) {
  Scratch s("olmoe");
  s.config["num_experts"] = 4;  // the file has 8 experts
  const std::string dir = s.write();
  EXPECT_HAS(error_of([&] { Model::load(dir); }),
             "model.safetensors: model.layers.0.mlp.gate.weight: shape [8,64] but config says num_experts=4, hidden_size=64");

  Scratch q("qwen2_moe");
  q.config["shared_expert_intermediate_size"] = 48;
  const std::string qdir = q.write();
  EXPECT_HAS(error_of([&] { Model::load(qdir); }),
             "model.layers.0.mlp.shared_expert.gate_proj.weight: shape [64,64] but config says "
             "shared_expert_intermediate_size=48, hidden_size=64");
}

TEST(ModelLoadErrors, NonFloatWeight) {
  Scratch s("mixtral");
  s.tensors["model.norm.weight"].dtype = "I32";
  const std::string dir = s.write();
  EXPECT_HAS(error_of([&] { Model::load(dir); }), "tensor 'model.norm.weight' has dtype I32; weights must be F32, BF16, F16 or block-scaled F8_E4M3");
}

TEST(ModelLoadErrors, UnsupportedArchitectureAndMissingGptOssWeights) {
  Scratch s("mixtral");
  s.config["model_type"] = "llama";
  const std::string dir = s.write();
  EXPECT_EQ(error_of([&] { Model::load(dir); }),
            dir + "/config.json: unsupported architecture 'llama' (supported: mixtral, olmoe, qwen2_moe, qwen3_moe, deepseek_v2, deepseek_v3, "
                  "kimi_k2, glm4_moe, ernie4_5_moe, gpt_oss, granitemoe, granitemoeshared, dots1, phimoe)");

  // A released GPT-OSS config with a checkpoint that holds none of its tensors.
  const std::string g = test::temp_dir("load-gptoss");
  fs::copy_file(test::fixtures_dir() + "/configs/gpt-oss-20b.json", g + "/config.json");
  write_raw(g + "/model.safetensors", {{"x", RawTensor{"F32", {1}, std::string(4, '\0')}}});
  EXPECT_HAS(error_of([&] { Model::load(g); }), "tensor(s) required by config.json (gpt_oss): 'model.embed_tokens.weight'");
  EXPECT_HAS(error_of([&] { Model::load(test::temp_dir("empty")); }), "no config.json in this directory");
}

TEST(ModelLoad, TiedEmbeddingsWithoutLmHead) {
  Scratch s("qwen2_moe");
  s.config["tie_word_embeddings"] = true;
  s.tensors.erase("lm_head.weight");
  const std::string dir = s.write();
  auto m = Model::load(dir);
  EXPECT_EQ(m->weights().lm_head.data, m->weights().embed.data);
  EXPECT_EQ(m->weights().lm_head.shape, m->weights().embed.shape);
  int64_t file_params = 0;
  for (const auto& [n, t] : s.tensors) file_params += numel(t.shape);
  EXPECT_EQ(count_weight_parameters(m->weights()), file_params);
  EXPECT_EQ(int64_t(count_parameters(m->config()).total), file_params);
}

// Fuses the per-expert tensors of `family` into transformers-5 3-D tensors under `moe_prefix` and
// checks each expert view holds exactly the original expert's numbers.
static void check_fused(const std::string& family, const std::string& src_moe, const std::string& dst_moe,
                        const char* gate_n, const char* up_n, const char* down_n) {
  Scratch s(family);
  const RawFile orig = s.tensors;
  const json cfg = s.config;
  const int E = cfg.value("num_local_experts", cfg.value("num_experts", 0));
  const int L = cfg["num_hidden_layers"].get<int>();
  const int64_t H = cfg["hidden_size"].get<int64_t>();
  const int64_t I = cfg.contains("moe_intermediate_size") ? cfg["moe_intermediate_size"].get<int64_t>()
                                                           : cfg["intermediate_size"].get<int64_t>();
  for (int l = 0; l < L; ++l) {
    const std::string sp = "model.layers." + std::to_string(l) + "." + src_moe;
    const std::string dp = "model.layers." + std::to_string(l) + "." + dst_moe;
    RawTensor gu{"F32", {E, 2 * I, H}, ""}, dn{"F32", {E, H, I}, ""};
    for (int e = 0; e < E; ++e) {
      const std::string ep = sp + "experts." + std::to_string(e) + ".";
      gu.bytes += orig.at(ep + gate_n).bytes + orig.at(ep + up_n).bytes;  // gate rows, then up rows
      dn.bytes += orig.at(ep + down_n).bytes;
      for (const char* n : {gate_n, up_n, down_n}) s.tensors.erase(ep + n);
    }
    s.tensors[dp + "experts.gate_up_proj"] = gu;
    s.tensors[dp + "experts.down_proj"] = dn;
    if (src_moe != dst_moe) {
      s.tensors[dp + "gate.weight"] = orig.at(sp + "gate.weight");
      s.tensors.erase(sp + "gate.weight");
    }
  }
  const std::string dir = s.write();
  auto m = Model::load(dir);
  for (int l = 0; l < L; ++l) {
    const std::string sp = "model.layers." + std::to_string(l) + "." + src_moe;
    ASSERT_EQ(m->weights().layers[size_t(l)].moe.experts.size(), size_t(E));
    for (int e = 0; e < E; ++e) {
      const std::string ep = sp + "experts." + std::to_string(e) + ".";
      const FfnWeights& x = m->weights().layers[size_t(l)].moe.experts[size_t(e)];
      EXPECT_EQ(x.gate.shape, (std::vector<int64_t>{I, H}));
      EXPECT_EQ(x.up.shape, (std::vector<int64_t>{I, H}));
      EXPECT_EQ(x.down.shape, (std::vector<int64_t>{H, I}));
      EXPECT_EQ(x.gate.to_f32(), floats(orig.at(ep + gate_n).bytes));
      EXPECT_EQ(x.up.to_f32(), floats(orig.at(ep + up_n).bytes));
      EXPECT_EQ(x.down.to_f32(), floats(orig.at(ep + down_n).bytes));
    }
    EXPECT_EQ(m->weights().layers[size_t(l)].moe.router.to_f32(), floats(orig.at(sp + "gate.weight").bytes));
  }
  int64_t file_params = 0;
  for (const auto& [n, t] : orig) file_params += numel(t.shape);
  EXPECT_EQ(count_weight_parameters(m->weights()), file_params);
}

TEST(ModelLoad, FusedExpertTensorsAreViews) {
  check_fused("qwen3_moe", "mlp.", "mlp.", "gate_proj.weight", "up_proj.weight", "down_proj.weight");
  check_fused("mixtral", "block_sparse_moe.", "mlp.", "w1.weight", "w3.weight", "w2.weight");
  check_fused("mixtral", "block_sparse_moe.", "block_sparse_moe.", "w1.weight", "w3.weight", "w2.weight");
}

TEST(ModelLoadErrors, FusedExpertShapeContradictingConfig) {
  Scratch s("olmoe");
  const int64_t E = 8, I = 32, H = 64;
  for (int l = 0; l < 2; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".mlp.experts.";
    for (int e = 0; e < E; ++e)
      for (const char* n : {"gate_proj.weight", "up_proj.weight", "down_proj.weight"})
        s.tensors.erase(p + std::to_string(e) + "." + n);
    s.tensors[p + "gate_up_proj"] = RawTensor{"F32", {E, I, H}, std::string(size_t(E * I * H * 4), '\0')};  // not 2I
    s.tensors[p + "down_proj"] = RawTensor{"F32", {E, H, I}, std::string(size_t(E * H * I * 4), '\0')};
  }
  const std::string dir = s.write();
  EXPECT_HAS(error_of([&] { Model::load(dir); }),
             "model.layers.0.mlp.experts.gate_up_proj: shape [8,32,64] but config says num_experts=8, "
             "2*intermediate_size=64, hidden_size=64");
}

// ---- GPT-OSS: fused experts rewritten at load, MXFP4 experts dequantized ----------------------------------

namespace {

const RawTensor& raw(const RawFile& f, const std::string& name) {
  auto it = f.find(name);
  if (it == f.end()) throw std::runtime_error("fixture has no " + name);
  return it->second;
}

float raw_f32(const RawTensor& t, int64_t i) {
  float v;
  std::memcpy(&v, t.bytes.data() + i * 4, 4);
  return v;
}

// MXFP4 by the OCP spec, written apart from the engine's table: e2m1 = sign, 2 exponent bits (bias 1),
// 1 mantissa bit; exponent 0 is subnormal (mantissa * 0.5).
double e2m1(int code) {
  const int sign = code >> 3, exp = (code >> 1) & 3, man = code & 1;
  const double mag = exp == 0 ? man * 0.5 : (1.0 + man * 0.5) * std::ldexp(1.0, exp - 1);
  return sign ? -mag : mag;
}

double mxfp4_value(const RawTensor& blocks, const RawTensor& scales, int64_t row, int64_t K, int64_t k) {
  const auto byte = uint8_t(blocks.bytes[size_t(row * (K / 2) + k / 2)]);
  const auto scale = uint8_t(scales.bytes[size_t(row * (K / 32) + k / 32)]);
  return e2m1(k % 2 ? byte >> 4 : byte & 15) * std::ldexp(1.0, int(scale) - 127);
}

}  // namespace

TEST(GptOssLoad, FusedExpertsAreTransposedAndDeinterleaved) {
  auto m = Model::load(test::model_fixture("gpt_oss"));
  const ModelConfig& c = m->config();
  const RawFile f = read_raw(test::model_fixture("gpt_oss") + "/model.safetensors");
  const int64_t E = c.num_experts, H = c.hidden_size, I = c.moe_intermediate_size;
  ASSERT_EQ(c.family, Family::GptOss);
  EXPECT_EQ(c.layer_sliding, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(c.sliding_window, 4);
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string px = "model.layers." + std::to_string(l) + ".mlp.experts.";
    const RawTensor& gu = raw(f, px + "gate_up_proj");      // [E, H, 2I]: y = x W
    const RawTensor& dn = raw(f, px + "down_proj");         // [E, I, H]
    const RawTensor& gub = raw(f, px + "gate_up_proj_bias");  // [E, 2I]
    const RawTensor& dnb = raw(f, px + "down_proj_bias");     // [E, H]
    ASSERT_EQ(gu.shape, (std::vector<int64_t>{E, H, 2 * I}));
    const auto& ex = m->weights().layers[size_t(l)].moe.experts;
    ASSERT_EQ(ex.size(), size_t(E));
    for (int64_t e = 0; e < E; ++e) {
      const FfnWeights& x = ex[size_t(e)];
      ASSERT_EQ(x.gate.shape, (std::vector<int64_t>{I, H}));
      ASSERT_EQ(x.down.shape, (std::vector<int64_t>{H, I}));
      for (int64_t i = 0; i < I; ++i) {
        for (int64_t h = 0; h < H; ++h) {
          ASSERT_EQ(x.gate.at(i * H + h), raw_f32(gu, (e * H + h) * 2 * I + 2 * i)) << l << "/" << e << "/" << i << "/" << h;
          ASSERT_EQ(x.up.at(i * H + h), raw_f32(gu, (e * H + h) * 2 * I + 2 * i + 1));
          ASSERT_EQ(x.down.at(h * I + i), raw_f32(dn, (e * I + i) * H + h));
        }
        ASSERT_EQ(x.gate_bias.at(i), raw_f32(gub, e * 2 * I + 2 * i));
        ASSERT_EQ(x.up_bias.at(i), raw_f32(gub, e * 2 * I + 2 * i + 1));
      }
      for (int64_t h = 0; h < H; ++h) ASSERT_EQ(x.down_bias.at(h), raw_f32(dnb, e * H + h));
    }
    EXPECT_EQ(m->weights().layers[size_t(l)].moe.router_bias.shape, (std::vector<int64_t>{E}));
    EXPECT_EQ(m->weights().layers[size_t(l)].attn.sinks.shape, (std::vector<int64_t>{c.num_heads}));
  }
  int64_t file_params = 0;
  for (const auto& kv : f) file_params += numel(kv.second.shape);
  EXPECT_EQ(count_weight_parameters(m->weights()), file_params);
  EXPECT_EQ(int64_t(count_parameters(c).total), file_params);
  EXPECT_EQ(m->dtypes(), std::vector<std::string>{"F32"});
  ASSERT_EQ(m->weights().conversions.size(), 1u);
  EXPECT_HAS(m->weights().conversions[0], "transposed and de-interleaved");
}

// Granite keeps each layer's experts in two fused tensors (input_linear [E, 2I, H]: gate rows, then up rows;
// output_linear [E, H, I]) and the shared MLP in two more; the bound matrices must be exactly those values.
TEST(GraniteLoad, FusedExpertsAndSharedMlpAreTheReleasedTensors) {
  for (const char* family : {"granitemoe", "granitemoe_shared"}) {
    SCOPED_TRACE(family);
    auto m = Model::load(test::model_fixture(family));
    const ModelConfig& c = m->config();
    ASSERT_EQ(c.family, Family::GraniteMoe);
    const RawFile f = read_raw(test::model_fixture(family) + "/model.safetensors");
    const int64_t E = c.num_experts, H = c.hidden_size, I = c.moe_intermediate_size, S = c.shared_intermediate_size;
    for (int l = 0; l < c.num_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".", m_ = p + "block_sparse_moe.";
      const LayerWeights& L = m->weights().layers[size_t(l)];
      ASSERT_TRUE(L.is_moe);
      EXPECT_EQ(L.moe.router.name, m_ + "router.layer.weight");
      const RawTensor& gu = raw(f, m_ + "input_linear.weight");
      const RawTensor& dn = raw(f, m_ + "output_linear.weight");
      ASSERT_EQ(gu.shape, (std::vector<int64_t>{E, 2 * I, H}));
      ASSERT_EQ(dn.shape, (std::vector<int64_t>{E, H, I}));
      ASSERT_EQ(L.moe.experts.size(), size_t(E));
      for (int64_t e = 0; e < E; ++e) {
        const FfnWeights& x = L.moe.experts[size_t(e)];
        ASSERT_EQ(x.gate.shape, (std::vector<int64_t>{I, H}));
        ASSERT_EQ(x.up.shape, (std::vector<int64_t>{I, H}));
        ASSERT_EQ(x.down.shape, (std::vector<int64_t>{H, I}));
        for (int64_t i = 0; i < I; ++i)
          for (int64_t h = 0; h < H; ++h) {
            ASSERT_EQ(x.gate.at(i * H + h), raw_f32(gu, (e * 2 * I + i) * H + h)) << l << "/" << e << "/" << i;
            ASSERT_EQ(x.up.at(i * H + h), raw_f32(gu, (e * 2 * I + I + i) * H + h)) << l << "/" << e << "/" << i;
            ASSERT_EQ(x.down.at(h * I + i), raw_f32(dn, (e * H + h) * I + i)) << l << "/" << e << "/" << i;
          }
      }
      if (S == 0) {
        EXPECT_FALSE(L.moe.shared.gate.valid());
        continue;
      }
      const RawTensor& sgu = raw(f, p + "shared_mlp.input_linear.weight");
      const RawTensor& sdn = raw(f, p + "shared_mlp.output_linear.weight");
      ASSERT_EQ(sgu.shape, (std::vector<int64_t>{2 * S, H}));
      ASSERT_EQ(sdn.shape, (std::vector<int64_t>{H, S}));
      EXPECT_FALSE(L.moe.shared_gate.valid());
      for (int64_t i = 0; i < S; ++i)
        for (int64_t h = 0; h < H; ++h) {
          ASSERT_EQ(L.moe.shared.gate.at(i * H + h), raw_f32(sgu, i * H + h));
          ASSERT_EQ(L.moe.shared.up.at(i * H + h), raw_f32(sgu, (S + i) * H + h));
          ASSERT_EQ(L.moe.shared.down.at(h * S + i), raw_f32(sdn, h * S + i));
        }
    }
    int64_t file_params = 0;
    for (const auto& kv : f) file_params += numel(kv.second.shape);
    EXPECT_EQ(count_weight_parameters(m->weights()), file_params);
    EXPECT_EQ(int64_t(count_parameters(c).total), file_params);
    EXPECT_EQ(m->weights().lm_head.data == m->weights().embed.data, c.tie_word_embeddings);
  }
}

// transformers 5 renames Granite's tensors on load (block_sparse_moe.router.weight, experts.gate_up_proj,
// experts.down_proj); a checkpoint written under those names binds to the same values. A file holding neither
// layout names what is missing.
TEST(GraniteLoad, TransformersFiveNamesBindTheSameWeights) {
  Scratch s("granitemoe_shared");
  RawFile renamed;
  for (const auto& [name, t] : s.tensors) {
    std::string n = name;
    for (const auto& [from, to] : {std::pair<std::string, std::string>{"block_sparse_moe.router.layer.weight", "block_sparse_moe.router.weight"},
                                   {"block_sparse_moe.input_linear.weight", "block_sparse_moe.experts.gate_up_proj"},
                                   {"block_sparse_moe.output_linear.weight", "block_sparse_moe.experts.down_proj"}}) {
      const size_t at = n.find(from);
      if (at != std::string::npos) n.replace(at, from.size(), to);
    }
    renamed[n] = t;
  }
  ASSERT_TRUE(renamed.count("model.layers.0.block_sparse_moe.experts.gate_up_proj"));
  s.tensors = renamed;
  auto a = Model::load(test::model_fixture("granitemoe_shared"));
  auto b = Model::load(s.write());
  const ModelConfig& c = a->config();
  for (int l = 0; l < c.num_layers; ++l) {
    const MoeWeights& x = a->weights().layers[size_t(l)].moe;
    const MoeWeights& y = b->weights().layers[size_t(l)].moe;
    EXPECT_EQ(y.router.name, "model.layers." + std::to_string(l) + ".block_sparse_moe.router.weight");
    for (int64_t i = 0; i < x.router.numel(); ++i) ASSERT_EQ(x.router.at(i), y.router.at(i));
    for (int e = 0; e < c.num_experts; ++e)
      for (const auto& [p, q] : {std::pair{&x.experts[size_t(e)].gate, &y.experts[size_t(e)].gate},
                                 {&x.experts[size_t(e)].up, &y.experts[size_t(e)].up},
                                 {&x.experts[size_t(e)].down, &y.experts[size_t(e)].down}})
        for (int64_t i = 0; i < p->numel(); ++i) ASSERT_EQ(p->at(i), q->at(i)) << l << "/" << e;
  }
  s.tensors.erase("model.layers.1.block_sparse_moe.experts.down_proj");
  const std::string dir = s.write();
  EXPECT_HAS(error_of([&] { Model::load(dir); }), "missing 1 tensor(s) required by config.json (granitemoe): "
                                                  "'model.layers.1.block_sparse_moe.experts.down_proj'");
}

TEST(GptOssLoad, Mxfp4ExpertsKeepTheirExactValues) {
  auto m = Model::load(test::model_fixture("gpt_oss_mxfp4"));
  const ModelConfig& c = m->config();
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();  // quantization_config mxfp4 is understood
  const RawFile f = read_raw(test::model_fixture("gpt_oss_mxfp4") + "/model.safetensors");
  const int64_t E = c.num_experts, H = c.hidden_size, I = c.moe_intermediate_size;
  int64_t nonzero = 0;
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string px = "model.layers." + std::to_string(l) + ".mlp.experts.";
    const RawTensor& gb = raw(f, px + "gate_up_proj_blocks");
    const RawTensor& gs = raw(f, px + "gate_up_proj_scales");
    const RawTensor& db = raw(f, px + "down_proj_blocks");
    const RawTensor& ds = raw(f, px + "down_proj_scales");
    ASSERT_EQ(gb.dtype, "U8");
    ASSERT_EQ(gb.shape, (std::vector<int64_t>{E, 2 * I, H / 32, 16}));
    const auto& ex = m->weights().layers[size_t(l)].moe.experts;
    for (int64_t e = 0; e < E; ++e) {
      const FfnWeights& x = ex[size_t(e)];
      ASSERT_EQ(x.gate.dtype, DType::MXFP4);
      // 4.25 bits per weight in memory, as in the file
      ASSERT_EQ(x.gate.nbytes, size_t(I * (H / 2 + H / 32)));
      ASSERT_EQ(x.down.nbytes, size_t(H * (I / 2 + I / 32)));
      for (int64_t i = 0; i < I; ++i)
        for (int64_t h = 0; h < H; ++h) {
          // rows of gate_up_proj are output features, gate and up interleaved
          const double g = mxfp4_value(gb, gs, e * 2 * I + 2 * i, H, h);
          ASSERT_EQ(double(x.gate.at(i * H + h)), g) << l << "/" << e << "/" << i << "/" << h;
          ASSERT_EQ(double(x.up.at(i * H + h)), mxfp4_value(gb, gs, e * 2 * I + 2 * i + 1, H, h));
          nonzero += g != 0;
        }
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < I; ++i) ASSERT_EQ(double(x.down.at(h * I + i)), mxfp4_value(db, ds, e * H + h, I, i));
    }
  }
  EXPECT_GT(nonzero, 0);
  // Parameters count what the blocks encode (two per byte), as the architecture does.
  EXPECT_EQ(count_weight_parameters(m->weights()), int64_t(count_parameters(c).total));
  EXPECT_EQ(m->dtypes(), (std::vector<std::string>{"BF16", "MXFP4"}));
  ASSERT_EQ(m->weights().conversions.size(), 1u);
  EXPECT_HAS(m->weights().conversions[0], "MXFP4 experts kept as MXFP4");
}

TEST(GptOssLoadErrors, Mxfp4TensorsWithTheWrongDtypeShapeOrMissing) {
  const std::string px = "model.layers.1.mlp.experts.";
  {
    Scratch s("gpt_oss_mxfp4");
    s.tensors[px + "gate_up_proj_blocks"].dtype = "I8";
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }),
               dir + "/model.safetensors: tensor '" + px + "gate_up_proj_blocks' has dtype I8; expected U8");
  }
  {
    Scratch s("gpt_oss_mxfp4");
    RawTensor& t = s.tensors[px + "down_proj_scales"];
    t.shape = {8, 64, 2};
    t.bytes.resize(8 * 64 * 2);
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }),
               px + "down_proj_scales: shape [8,64,2] but config says num_local_experts=8, hidden_size=64, "
                    "intermediate_size/32=1 (expected [8,64,1])");
  }
  {
    Scratch s("gpt_oss_mxfp4");
    s.tensors.erase(px + "down_proj_scales");
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }),
               "missing 1 tensor(s) required by config.json (gpt_oss): '" + px + "down_proj_scales'");
  }
  {  // both halves of the fused experts must share a dtype (they are rewritten into one buffer)
    Scratch s("gpt_oss");
    RawTensor& t = s.tensors[px + "down_proj"];
    t.dtype = "F16";
    t.bytes.resize(t.bytes.size() / 2);
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }), px + "gate_up_proj is F32 but " + px + "down_proj is F16");
  }
}

// ---- fine-grained FP8 checkpoints (F8_E4M3 + weight_scale_inv) -----------------------------------

namespace {

double e4m3(int code) { return test::e4m3_value(uint8_t(code)); }  // tests/support/reference.h

float f32_at(const RawTensor& t, int64_t i) {
  float v;
  std::memcpy(&v, t.bytes.data() + 4 * i, 4);
  return v;
}

// The bound matrix of every FP8 tensor of the qwen3_moe_fp8 fixture, by checkpoint name.
std::map<std::string, TensorRef> fp8_matrices(const Model& m) {
  std::map<std::string, TensorRef> out;
  for (const auto& L : m.weights().layers) {
    for (const TensorRef* t : {&L.attn.q, &L.attn.k, &L.attn.v, &L.attn.o}) out[t->name] = *t;
    for (const auto& e : L.moe.experts)
      for (const TensorRef* t : {&e.gate, &e.up, &e.down}) out[t->name] = *t;
  }
  return out;
}

// Every weight of every F8_E4M3 tensor in `file` as bound in `m`: code (decoded here) times the scale of the block
// [r / bn, k / bk] of its weight_scale_inv, rounded to fp32 once. Returns how many matrices were checked.
int expect_code_times_block_scale(const Model& m, const RawFile& file, int64_t bn, int64_t bk) {
  const auto bound = fp8_matrices(m);
  int checked = 0;
  for (const auto& [name, t] : file) {
    if (t.dtype != "F8_E4M3") continue;
    SCOPED_TRACE(name);
    const RawTensor& s = file.at(name + "_scale_inv");
    const int64_t R = t.shape[0], K = t.shape[1], SC = s.shape[1];
    EXPECT_EQ(s.shape, (std::vector<int64_t>{(R + bn - 1) / bn, (K + bk - 1) / bk}));
    const TensorRef& w = bound.at(name);
    EXPECT_EQ(w.dtype, DType::FP8_B128);
    EXPECT_EQ(w.shape, t.shape);
    EXPECT_EQ(w.nbytes, size_t(R) * size_t(K + 4 * ((K + 127) / 128)));  // 1 byte per weight + a scale per 128
    for (int64_t r = 0; r < R; ++r)
      for (int64_t k = 0; k < K; ++k) {
        const float want = float(e4m3(uint8_t(t.bytes[size_t(r * K + k)])) * double(f32_at(s, (r / bn) * SC + k / bk)));
        if (w.at(r * K + k) != want) {
          ADD_FAILURE() << name << " [" << r << ", " << k << "]: " << w.at(r * K + k) << " != " << want;
          return -1;
        }
      }
    ++checked;
  }
  return checked;
}

}  // namespace

TEST(Fp8Load, WeightsAreCodeTimesTheirBlockScale) {
  auto m = Model::load(test::model_fixture("qwen3_moe_fp8"));
  const ModelConfig& c = m->config();
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();  // quantization_config fp8 is understood
  EXPECT_EQ(c.fp8_block_rows, 128);
  EXPECT_EQ(c.fp8_block_cols, 128);
  const RawFile f = read_raw(test::model_fixture("qwen3_moe_fp8") + "/model.safetensors");
  EXPECT_EQ(expect_code_times_block_scale(*m, f, 128, 128), 2 * (4 + 3 * 8));
  // Parameters: the codes count, the scales do not (as the architecture counts them).
  EXPECT_EQ(count_weight_parameters(m->weights()), int64_t(count_parameters(c).total));
  EXPECT_EQ(m->dtypes(), (std::vector<std::string>{"F32", "FP8_B128"}));
  ASSERT_EQ(m->weights().conversions.size(), 1u);
  EXPECT_HAS(m->weights().conversions[0], "56 FP8 (E4M3) matrices with [128, 128] block scales kept in FP8");
}

// Other block sizes, with partial blocks over several rows (rows 96 in blocks of 64) and blocks wider than the
// engine's 128-column scale groups (256, 384): the same codes with new random scales.
TEST(Fp8Load, OtherBlockSizesUseTheScaleOfTheBlockEachWeightLiesIn) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(1e-4f, 1e-2f);
  for (const auto& [bn, bk] : std::vector<std::pair<int64_t, int64_t>>{{64, 128}, {128, 256}, {32, 384}, {1, 128}}) {
    SCOPED_TRACE(std::to_string(bn) + "x" + std::to_string(bk));
    Scratch s("qwen3_moe_fp8");
    s.config["quantization_config"]["weight_block_size"] = {bn, bk};
    std::vector<std::string> names;
    for (const auto& [name, t] : s.tensors)
      if (t.dtype == "F8_E4M3") names.push_back(name);
    for (const auto& name : names) {
      const auto& shape = s.tensors[name].shape;
      RawTensor sc{"F32", {(shape[0] + bn - 1) / bn, (shape[1] + bk - 1) / bk}, ""};
      for (int64_t i = 0; i < sc.shape[0] * sc.shape[1]; ++i) {
        const float v = u(rng);
        sc.bytes.append(reinterpret_cast<const char*>(&v), 4);
      }
      s.tensors[name + "_scale_inv"] = sc;
    }
    const std::string dir = s.write();
    auto m = Model::load(dir);
    EXPECT_EQ(expect_code_times_block_scale(*m, s.tensors, bn, bk), 56);
  }
}

// llm-compressor's FP8 checkpoints (quant_method "compressed-tensors", 8-bit float weights): `weight_scale` per
// output channel [R, 1], per matrix [1] or per block, W = code * scale; static activation scales (`input_scale`)
// are understood and not used. The fixture's codes with new random scales, checked against the decode above.
namespace {
Scratch compressed_tensors(const std::string& strategy, std::mt19937& rng, bool input_scales = false) {
  std::uniform_real_distribution<float> u(1e-4f, 1e-2f);
  Scratch s("qwen3_moe_fp8");
  json weights = {{"num_bits", 8}, {"type", "float"}, {"strategy", strategy}, {"symmetric", true}, {"dynamic", false}};
  if (strategy == "block") weights["block_structure"] = {128, 128};
  s.config["quantization_config"] = {
      {"quant_method", "compressed-tensors"}, {"format", "float-quantized"}, {"quantization_status", "compressed"},
      {"config_groups", {{"group_0", {{"targets", {"Linear"}}, {"weights", weights},
                                      {"input_activations", {{"num_bits", 8}, {"type", "float"}, {"strategy", "tensor"},
                                                             {"dynamic", !input_scales}}}}}}},
      {"ignore", {"lm_head", "re:.*mlp.gate$"}}};
  std::vector<std::string> names;
  for (const auto& [name, t] : s.tensors)
    if (t.dtype == "F8_E4M3") names.push_back(name);
  for (const auto& name : names) {
    const auto& shape = s.tensors[name].shape;
    s.tensors.erase(name + "_scale_inv");
    RawTensor sc{"F32", strategy == "channel" ? std::vector<int64_t>{shape[0], 1}
                        : strategy == "tensor" ? std::vector<int64_t>{1}
                                               : std::vector<int64_t>{(shape[0] + 127) / 128, (shape[1] + 127) / 128},
                 ""};
    for (int64_t i = 0; i < sc.shape[0] * (sc.shape.size() > 1 ? sc.shape[1] : 1); ++i) {
      const float v = u(rng);
      sc.bytes.append(reinterpret_cast<const char*>(&v), 4);
    }
    s.tensors[name.substr(0, name.size() - 6) + "weight_scale"] = sc;
    if (input_scales) {
      const float one = 0.5f;
      s.tensors[name.substr(0, name.size() - 6) + "input_scale"] = {"F32", {1}, std::string(reinterpret_cast<const char*>(&one), 4)};
    }
  }
  return s;
}

// The scales of compressed_tensors() as a weight_scale_inv-style grid, for expect_code_times_block_scale.
RawFile with_scale_inv_names(const RawFile& f) {
  RawFile out = f;
  for (const auto& [name, t] : f)
    if (name.size() > 12 && name.compare(name.size() - 12, 12, "weight_scale") == 0) {
      RawTensor g = t;
      if (g.shape.size() == 1) g.shape = {1, 1};
      out[name + "_inv"] = g;
    }
  return out;
}
}  // namespace

TEST(Fp8Load, CompressedTensorsChannelTensorAndBlockScales) {
  std::mt19937 rng(9);
  for (const std::string strategy : {"channel", "tensor", "block"}) {
    SCOPED_TRACE(strategy);
    Scratch s = compressed_tensors(strategy, rng, strategy == "tensor");
    const std::string dir = s.write();
    auto m = Model::load(dir);
    EXPECT_EQ(m->config().fp8_method, "compressed-tensors");
    EXPECT_EQ(m->config().fp8_strategy, strategy);
    const RawFile grid = with_scale_inv_names(s.tensors);
    // channel: blocks of one row over all columns; tensor: one block; block: 128 x 128
    int checked = 0;
    if (strategy == "block") checked = expect_code_times_block_scale(*m, grid, 128, 128);
    else {
      // per matrix, the block is [1, K] (channel) or [R, K] (tensor)
      for (const auto& [name, t] : grid)
        if (t.dtype == "F8_E4M3") {
          RawFile one;
          one[name] = t;
          one[name + "_scale_inv"] = grid.at(name + "_scale_inv");
          checked += expect_code_times_block_scale(*m, one, strategy == "channel" ? 1 : t.shape[0], t.shape[1]);
        }
    }
    EXPECT_EQ(checked, 56);
    ASSERT_EQ(m->weights().conversions.size(), 1u);
    EXPECT_HAS(m->weights().conversions[0], "(compressed-tensors)");
    if (strategy == "tensor") EXPECT_HAS(m->weights().conversions[0], "56 static activation scales (input_scale) are not used");
  }
}

TEST(Fp8LoadErrors, CompressedTensorsItCannotRead) {
  std::mt19937 rng(10);
  {
    Scratch s = compressed_tensors("channel", rng);
    s.tensors["model.layers.1.self_attn.o_proj.weight_scale"].shape = {1, 256};
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }), "scale tensor 'model.layers.1.self_attn.o_proj.weight_scale' has shape "
                                                    "[1,256] but model.layers.1.self_attn.o_proj.weight [256,128] with "
                                                    "channel scales needs [256,1]");
  }
  {
    Scratch s = compressed_tensors("channel", rng);
    s.config["quantization_config"]["config_groups"]["group_1"] = {
        {"targets", {"re:.*experts.*"}}, {"weights", {{"num_bits", 4}, {"type", "int"}, {"strategy", "group"}}}};
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }),
               "quantization_config (compressed-tensors): group 'group_1' quantises weights to 4-bit int; the engine "
               "reads 8-bit float (FP8) weights only");
  }
  {
    Scratch s = compressed_tensors("channel", rng);
    s.config["quantization_config"]["config_groups"]["group_1"] = {
        {"weights", {{"num_bits", 8}, {"type", "float"}, {"strategy", "tensor"}}}};
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }), "groups with different weight strategies (channel, tensor) are not supported");
  }
  {
    Scratch s = compressed_tensors("block", rng);
    s.config["quantization_config"]["config_groups"]["group_0"]["weights"]["block_structure"] = {128, 64};
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }), "\"block_structure\" [128,64]: the engine needs blocks of a multiple of 128 columns");
  }
}

TEST(Fp8LoadErrors, MissingOrMisshapenScalesNaNCodesAndUnsupportedConfigs) {
  const std::string q = "model.layers.1.self_attn.q_proj.weight";
  {
    Scratch s("qwen3_moe_fp8");
    s.tensors.erase(q + "_scale_inv");
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }),
               dir + "/model.safetensors: FP8 tensor '" + q + "' has no scale tensor '" + q + "_scale_inv'");
  }
  {
    Scratch s("qwen3_moe_fp8");
    s.tensors[q + "_scale_inv"].shape = {2, 1};
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }),
               "scale tensor '" + q + "_scale_inv' has shape [2,1] but " + q +
                   " [128,256] with weight_block_size [128, 128] needs [1,2]");
  }
  {
    Scratch s("qwen3_moe_fp8");
    s.tensors[q].bytes[3 * 256 + 17] = char(0xFF);
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }), "FP8 tensor '" + q + "' holds a NaN code (0xFF) at [3, 17]");
  }
  {
    Scratch s("qwen3_moe_fp8");
    const float inf = std::numeric_limits<float>::infinity();
    std::memcpy(s.tensors[q + "_scale_inv"].bytes.data() + 4, &inf, 4);
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }), "scale tensor '" + q + "_scale_inv' holds inf at block [0, 1]");
  }
  {
    Scratch s("qwen3_moe_fp8");
    s.config.erase("quantization_config");
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }),
               "config.json has no FP8 quantization_config (quant_method \"fp8\" with weight_block_size, or "
               "compressed-tensors with 8-bit float weights)");
  }
  {
    Scratch s("qwen3_moe_fp8");
    s.config["quantization_config"]["weight_block_size"] = {64, 64};
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }), dir + "/config.json: quantization_config: \"weight_block_size\" "
                                                          "[64,64]: the engine needs blocks of a multiple of 128 columns");
  }
  {
    Scratch s("qwen3_moe_fp8");
    s.config["quantization_config"]["weight_block_size"] = {128};
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }), "\"weight_block_size\" must be two positive integers, got [128]");
  }
  {
    Scratch s("qwen3_moe_fp8");
    s.config["quantization_config"].erase("weight_block_size");
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }), "FP8 without \"weight_block_size\" (per-tensor FP8 scales) is not supported");
  }
  {
    Scratch s("qwen3_moe_fp8");
    s.config["quantization_config"]["fmt"] = "e5m2";
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }), "\"fmt\" \"e5m2\" is not supported (FP8 weights must be e4m3)");
  }
  {
    Scratch s("qwen3_moe_fp8");
    s.tensors[q].dtype = "F8_E5M2";
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }), "tensor '" + q + "': dtype 'F8_E5M2' is not supported");
  }
  {  // an FP8 tensor where the binder expects a vector
    Scratch s("qwen3_moe_fp8");
    RawTensor& t = s.tensors["model.layers.0.input_layernorm.weight"];
    t.dtype = "F8_E4M3";
    t.bytes.resize(t.bytes.size() / 4);
    const std::string dir = s.write();
    EXPECT_HAS(error_of([&] { Model::load(dir); }), "FP8 tensor 'model.layers.0.input_layernorm.weight' has shape [256]; "
                                                    "FP8 weights are read as 2-D matrices");
  }
}
