// Model::load on every fixture family and the demo (shapes, dtypes, layer kinds and parameter counts
// against meta.json / training_report.json / an independent header read), plus malformed checkpoints
// written into temp dirs, checking the error names the file and the problem.
#include <gtest/gtest.h>

#include <cstring>
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
  EXPECT_EQ(c.num_experts, cs.value("num_experts", cs.value("n_routed_experts", -1)));
  EXPECT_EQ(c.num_experts_per_tok, cs["num_experts_per_tok"].get<int>());
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
  EXPECT_NE(w.lm_head.data, w.embed.data);  // untied in every fixture
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
    const std::string moe = family == "mixtral" ? p + "block_sparse_moe." : p + "mlp.";
    EXPECT_EQ(L.moe.router.shape, shapes.at(moe + "gate.weight"));
    EXPECT_EQ(L.moe.router.name, moe + "gate.weight");
    for (int e = 0; e < c.num_experts; ++e) {
      const std::string ep = moe + "experts." + std::to_string(e) + ".";
      const auto& x = L.moe.experts[size_t(e)];
      EXPECT_EQ(x.gate.name, ep + (family == "mixtral" ? "w1.weight" : "gate_proj.weight"));
      EXPECT_EQ(x.up.name, ep + (family == "mixtral" ? "w3.weight" : "up_proj.weight"));
      EXPECT_EQ(x.down.name, ep + (family == "mixtral" ? "w2.weight" : "down_proj.weight"));
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
  }
  if (family == "deepseek_v3") {
    const auto& a = w.layers[0].attn;
    EXPECT_EQ(a.q_a.shape, shapes.at("model.layers.0.self_attn.q_a_proj.weight"));
    EXPECT_EQ(a.q_b.shape, shapes.at("model.layers.0.self_attn.q_b_proj.weight"));
    EXPECT_EQ(a.kv_a.shape, shapes.at("model.layers.0.self_attn.kv_a_proj_with_mqa.weight"));
    EXPECT_EQ(a.kv_b.shape, shapes.at("model.layers.0.self_attn.kv_b_proj.weight"));
    EXPECT_EQ(a.kv_a_norm.shape, shapes.at("model.layers.0.self_attn.kv_a_layernorm.weight"));
    EXPECT_FALSE(a.q.valid());
  } else {
    EXPECT_EQ(w.layers[0].attn.q.shape, shapes.at("model.layers.0.self_attn.q_proj.weight"));
    EXPECT_EQ(w.layers[0].attn.k.shape, shapes.at("model.layers.0.self_attn.k_proj.weight"));
  }
  if (family == "olmoe" || family == "qwen3_moe")
    EXPECT_EQ(w.layers[0].attn.q_norm.shape, shapes.at("model.layers.0.self_attn.q_norm.weight"));
}

INSTANTIATE_TEST_SUITE_P(Families, FixtureLoad,
                         ::testing::Values("mixtral", "olmoe", "qwen2_moe", "qwen3_moe", "deepseek_v3"));

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
