// `moescope info` run as a process: JSON for checkpoint directories (demo, fixtures) and bare
// config.json files, checked against independent sources (training_report.json, meta.json, file sizes,
// published parameter counts), and the one-line errors with their exit codes.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/fixtures.h"
#include "tests/support/process.h"

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using moescope::test::ProcResult;
using moescope::test::slurp;

ProcResult run_info(const std::string& args) { return moescope::test::run_moescope("info " + args); }

json info(const std::string& path) {
  ProcResult r = run_info("'" + path + "'");
  EXPECT_EQ(r.code, 0) << r.err;
  return json::parse(r.out);
}

}  // namespace

TEST(CliInfo, DemoCheckpoint) {
  const json j = info(moescope::test::demo_model());
  const json report = json::parse(slurp(moescope::test::demo_model() + "/training_report.json"));
  EXPECT_EQ(j["source"], "checkpoint");
  EXPECT_EQ(j["family"], "mixtral");
  EXPECT_EQ(j["architecture"], "MixtralForCausalLM");
  EXPECT_EQ(j["layers"], 6);
  EXPECT_EQ(j["moe_layers"], json({0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(j["experts"], 16);
  EXPECT_EQ(j["experts_per_token"], 2);
  EXPECT_EQ(j["shared_experts"], 0);
  EXPECT_EQ(j["hidden_size"], 128);
  EXPECT_EQ(j["vocab_size"], 4096);
  EXPECT_EQ(j["head_dim"], 32);
  EXPECT_EQ(j["attention"]["kind"], "gqa");
  EXPECT_EQ(j["context_length"], 1024);
  EXPECT_EQ(j["params"]["total"], report["params_total"]);
  EXPECT_EQ(j["params"]["active"], report["params_active_per_token"]);
  EXPECT_EQ(j["params"]["embedding"], 4096 * 128);
  EXPECT_EQ(j["params"]["active_without_embedding"], report["params_active_per_token"].get<int64_t>() - 4096 * 128);
  EXPECT_EQ(j["checkpoint_params"], report["params_total"]);
  EXPECT_EQ(j["checkpoint_params_match"], true);
  EXPECT_EQ(j["dtypes"], json({"BF16"}));  // Inspect binds no expert (they would be MXFP4)
  std::set<std::string> names;
  for (const auto& f : j["files"]) {
    names.insert(f["name"].get<std::string>());
    EXPECT_EQ(f["bytes"].get<uint64_t>(), fs::file_size(moescope::test::demo_model() + "/" + f["name"].get<std::string>()));
  }
  EXPECT_EQ(names, (std::set<std::string>{"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                                          "model-00002-of-00002.safetensors"}));
  EXPECT_TRUE(j["warnings"].empty());
}

TEST(CliInfo, FixtureCheckpoints) {
  for (const std::string family : {"mixtral", "olmoe", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3", "glm4_moe",
                                   "ernie4_5_moe", "granitemoe", "granitemoe_shared", "dots1", "phimoe"}) {
    SCOPED_TRACE(family);
    const json meta = json::parse(slurp(moescope::test::fixtures_dir() + "/models/" + family + "/meta.json"));
    const json j = info(moescope::test::model_fixture(family));
    EXPECT_EQ(j["family"], family == "granitemoe_shared" ? "granitemoe" : family);  // granitemoeshared: same family
    EXPECT_EQ(j["moe_layers"], meta["moe_layers"]);
    EXPECT_EQ(j["checkpoint_params_match"], true);
    EXPECT_EQ(j["dtypes"], json({"F32"}));
    EXPECT_EQ(j["attention"]["kind"], family == "deepseek_v3" || family == "deepseek_v2" ? "mla" : "gqa");
    // Tensors in the file: fp32, so bytes = 4 * parameters + header.
    const uint64_t file = fs::file_size(moescope::test::model_fixture(family) + "/model.safetensors");
    const uint64_t params = j["checkpoint_params"].get<uint64_t>();
    EXPECT_LT(4 * params, file);
    EXPECT_GT(4 * params + 20000, file);
    if (family == "olmoe") EXPECT_NE(j["warnings"][0].get<std::string>().find("50279"), std::string::npos);
    if (family == "deepseek_v3") EXPECT_EQ(j["shared_experts"], 1);
    if (family.rfind("granitemoe", 0) == 0) {  // as in the fixture's config.json
      const json cfg = json::parse(slurp(moescope::test::model_fixture(family) + "/config.json"));
      EXPECT_FLOAT_EQ(j["multipliers"]["embedding"].get<float>(), cfg["embedding_multiplier"].get<float>());
      EXPECT_FLOAT_EQ(j["multipliers"]["attention"].get<float>(), cfg["attention_multiplier"].get<float>());
      EXPECT_FLOAT_EQ(j["multipliers"]["residual"].get<float>(), cfg["residual_multiplier"].get<float>());
      EXPECT_FLOAT_EQ(j["multipliers"]["logits_scaling"].get<float>(), cfg["logits_scaling"].get<float>());
      EXPECT_EQ(j["shared_experts"], family == "granitemoe_shared" ? 1 : 0);
    } else {
      EXPECT_FALSE(j.contains("multipliers"));
    }
  }
}

// A fine-grained FP8 checkpoint (E4M3 weights + weight_scale_inv per 128x128 block): info reads the tensors as
// stored, counts the codes as parameters (the scales are not), and says how a run keeps them.
TEST(CliInfo, Fp8CheckpointShowsItsDtypesAndConversion) {
  const json j = info(moescope::test::model_fixture("qwen3_moe_fp8"));
  EXPECT_EQ(j["family"], "qwen3_moe");
  EXPECT_EQ(j["dtypes"], json({"F32", "F8_E4M3"}));
  EXPECT_EQ(j["checkpoint_params_match"], true);
  EXPECT_TRUE(j["warnings"].empty()) << j["warnings"].dump();
  ASSERT_EQ(j["conversions"].size(), 1u);
  EXPECT_NE(j["conversions"][0].get<std::string>().find("56 FP8 (E4M3) matrices with [128, 128] block scales"),
            std::string::npos);
  const json q = {{"method", "fp8"}, {"format", "e4m3"}, {"scales", "block"}, {"weight_block_size", {128, 128}},
                  {"activation_scheme", "dynamic"}};
  EXPECT_EQ(j["quantization"], q);
  // DeepSeek-V3's released config.json says the same about its (absent) FP8 weights; unquantised configs say nothing.
  EXPECT_EQ(info(moescope::test::fixtures_dir() + "/configs/DeepSeek-V3.json")["quantization"], q);
  EXPECT_FALSE(info(moescope::test::model_fixture("qwen3_moe")).contains("quantization"));
}

// GPT-OSS as released (MXFP4 experts): info checks the tensors without dequantizing them, and counts two
// parameters per byte of blocks (scales are not parameters), from the header here.
TEST(CliInfo, GptOssMxfp4Checkpoint) {
  const std::string dir = moescope::test::model_fixture("gpt_oss_mxfp4");
  const json j = info(dir);
  EXPECT_EQ(j["family"], "gpt_oss");
  const std::string bytes = slurp(dir + "/model.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const json h = json::parse(bytes.substr(8, n));
  int64_t params = 0;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    int64_t e = 1;
    for (const auto& d : it.value()["shape"]) e *= d.get<int64_t>();
    const std::string& name = it.key();
    if (name.size() > 7 && name.compare(name.size() - 7, 7, "_scales") == 0) continue;
    params += name.size() > 7 && name.compare(name.size() - 7, 7, "_blocks") == 0 ? 2 * e : e;
  }
  EXPECT_EQ(j["checkpoint_params"].get<int64_t>(), params);
  EXPECT_EQ(j["checkpoint_params_match"], true);
  EXPECT_EQ(j["dtypes"], json({"BF16"}));
  ASSERT_EQ(j["conversions"].size(), 1u);
  EXPECT_NE(j["conversions"][0].get<std::string>().find("MXFP4"), std::string::npos);
  EXPECT_TRUE(j["warnings"].empty()) << j["warnings"];
  EXPECT_EQ(j["attention"]["sliding_window_layers"], json({0, 2}));
}

TEST(CliInfo, BareConfigJson) {
  const json j = info(moescope::test::fixtures_dir() + "/configs/Qwen3-30B-A3B.json");
  EXPECT_EQ(j["source"], "config");
  EXPECT_EQ(j["family"], "qwen3_moe");
  EXPECT_EQ(j["experts"], 128);
  EXPECT_EQ(j["experts_per_token"], 8);
  EXPECT_EQ(j["head_dim"], 128);
  EXPECT_EQ(j["context_length"], 40960);
  EXPECT_NEAR(j["params"]["total"].get<double>() / 30.5e9, 1.0, 0.02);  // Qwen3 model card
  EXPECT_NEAR(j["params"]["active"].get<double>() / 3.3e9, 1.0, 0.02);
  EXPECT_EQ(j["dtypes"], json::array());

  const json g = info(moescope::test::fixtures_dir() + "/configs/gpt-oss-20b.json");
  EXPECT_EQ(g["family"], "gpt_oss");
  EXPECT_NEAR(g["params"]["total"].get<double>() / 20.91e9, 1.0, 0.02);  // gpt-oss model card
  EXPECT_NEAR(g["params"]["active_without_embedding"].get<double>() / 3.61e9, 1.0, 0.02);
  EXPECT_TRUE(g["warnings"].empty()) << g["warnings"];  // its mxfp4 quantization_config is understood
  EXPECT_EQ(g["attention"]["sliding_window"], 128);
  EXPECT_EQ(g["attention"]["sliding_window_layers"], json({0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22}));
  EXPECT_EQ(g["attention"]["sinks"], true);
  EXPECT_EQ(g["router"]["scoring"], "topk_softmax");
  EXPECT_EQ(g["router"]["bias"], true);

  const json d = info(moescope::test::fixtures_dir() + "/configs/DeepSeek-V3.json");
  EXPECT_EQ(d["dense_layers"], json({0, 1, 2}));
  EXPECT_EQ(d["attention"]["kind"], "mla");
  EXPECT_EQ(d["rope"]["type"], "yarn");
  EXPECT_EQ(d["rope"]["interleaved"], true);
  EXPECT_EQ(d["router"]["correction_bias"], true);

  const json v2 = info(moescope::test::fixtures_dir() + "/configs/DeepSeek-V2.json");
  EXPECT_EQ(v2["family"], "deepseek_v2");
  EXPECT_EQ(v2["router"]["scoring"], "softmax_group_topk");
  EXPECT_EQ(v2["router"]["n_group"], 8);
  EXPECT_EQ(v2["router"]["topk_group"], 3);
  EXPECT_EQ(v2["router"]["routed_scaling_factor"], 16.0);
  EXPECT_FALSE(v2["router"].contains("correction_bias"));
  EXPECT_EQ(v2["rope"]["mscale_all_dim"], 0.707);

  const json glm = info(moescope::test::fixtures_dir() + "/configs/GLM-4.5.json");
  EXPECT_EQ(glm["family"], "glm4_moe");
  EXPECT_EQ(glm["attention"]["bias"], "qkv");
  EXPECT_EQ(glm["attention"]["qk_norm"], "per_head");
  EXPECT_EQ(glm["rope"]["partial_rotary_factor"], 0.5);
  EXPECT_EQ(glm["router"]["scoring"], "sigmoid_group_topk");
}

TEST(CliInfo, Errors) {
  ProcResult r = run_info("/nonexistent/model");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "moescope info: error: /nonexistent/model: no such file or directory\n");
  EXPECT_TRUE(r.out.empty());

  const std::string dir = moescope::test::temp_dir("cli-info-bad");
  std::ofstream(dir + "/config.json") << R"({"model_type": "llama", "architectures": ["LlamaForCausalLM"]})";
  r = run_info("'" + dir + "/config.json'");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "moescope info: error: " + dir +
                       "/config.json: unsupported architecture 'llama' (supported: mixtral, olmoe, qwen2_moe, "
                       "qwen3_moe, deepseek_v2, deepseek_v3, kimi_k2, glm4_moe, ernie4_5_moe, gpt_oss, granitemoe, granitemoeshared, dots1, phimoe)\n");

  r = run_info("");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("moescope info: error: missing MODEL_DIR or config.json"), std::string::npos);

  r = run_info("'" + moescope::test::temp_dir("cli-info-empty") + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(": no config.json in this directory"), std::string::npos) << r.err;

  r = run_info("'" + moescope::test::model_fixture("olmoe") + "/model.safetensors'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("model.safetensors: a single .safetensors file has no config"), std::string::npos) << r.err;

  // A checkpoint whose shard is missing: the index and the shard are named.
  const std::string ck = moescope::test::temp_dir("cli-info-shard");
  fs::copy_file(moescope::test::demo_model() + "/config.json", ck + "/config.json");
  fs::copy_file(moescope::test::demo_model() + "/model.safetensors.index.json", ck + "/model.safetensors.index.json");
  fs::copy_file(moescope::test::demo_model() + "/model-00001-of-00002.safetensors", ck + "/model-00001-of-00002.safetensors");
  r = run_info("'" + ck + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("model.safetensors.index.json: shard 'model-00002-of-00002.safetensors'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("does not exist"), std::string::npos);
}
