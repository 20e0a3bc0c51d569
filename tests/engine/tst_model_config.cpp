// config.json -> ModelConfig for every family (both RoPE spellings, dense-layer rules, yarn, token-id
// warnings), the errors for configs the engine cannot run, and parameter counts of released models
// against the figures their authors published.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/model/model.h"
#include "engine/util/error.h"
#include "tests/support/fixtures.h"

using namespace moescope;
using nlohmann::json;

namespace {

json fixture_config(const std::string& family) {
  std::ifstream in(test::model_fixture(family) + "/config.json");
  return json::parse(in);
}

ModelConfig parse(const json& j, const std::string& path = "dir/config.json") { return parse_model_config(j.dump(), path); }

std::string error_of(const json& j, const std::string& path = "dir/config.json") {
  try {
    parse(j, path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

// ---- released models: counts vs published figures ---------------------------------------------

struct Published {
  const char* file;
  const char* family;
  double total;        // authors' total parameters
  double active;       // authors' active parameters per token
  bool active_counts_embedding;  // whether the authors' active figure includes the input embedding
};

// Sources: Mistral "Mixtral of experts" (46.7B / 12.9B) and Mixtral 8x22B announcement (141B / 39B);
// OLMoE paper (6.9B / 1.3B); Qwen1.5-MoE blog (14.3B / 2.7B); Qwen2 report (57B / 14B); Qwen3 model
// cards (30.5B / 3.3B, 235B / 22B); DeepSeek-V2 report (236B / 21B); DeepSeek-V3 report (671B / 37B, MTP module excluded); gpt-oss model
// card (20.91B / 3.61B and 116.83B / 5.13B, active without the embedding table).
const Published kPublished[] = {
    {"Mixtral-8x7B-v0.1", "mixtral", 46.7e9, 12.9e9, true},
    {"Mixtral-8x22B-v0.1", "mixtral", 141e9, 39e9, true},
    {"OLMoE-1B-7B-0924", "olmoe", 6.9e9, 1.3e9, true},
    {"Qwen1.5-MoE-A2.7B", "qwen2_moe", 14.3e9, 2.7e9, true},
    {"Qwen2-57B-A14B", "qwen2_moe", 57e9, 14e9, true},
    {"Qwen3-30B-A3B", "qwen3_moe", 30.5e9, 3.3e9, true},
    {"Qwen3-235B-A22B", "qwen3_moe", 235e9, 22e9, true},
    {"DeepSeek-V2", "deepseek_v2", 236e9, 21e9, true},
    {"DeepSeek-V3", "deepseek_v3", 671e9, 37e9, true},
    {"gpt-oss-20b", "gpt_oss", 20.91e9, 3.61e9, false},
    {"gpt-oss-120b", "gpt_oss", 116.83e9, 5.13e9, false},
};

TEST(ParamCount, ReleasedModelsMatchPublishedFiguresWithin2Percent) {
  for (const auto& p : kPublished) {
    SCOPED_TRACE(p.file);
    const ModelConfig c = load_model_config(test::fixtures_dir() + "/configs/" + p.file + ".json");
    EXPECT_EQ(family_name(c.family), std::string(p.family));
    const ParamCounts n = count_parameters(c);
    const double active = p.active_counts_embedding ? n.active : n.active_without_embedding;
    std::printf("%-20s total %7.2fB (published %7.2fB)  active %6.2fB, without embedding %6.2fB (published %5.2fB)\n",
                p.file, n.total / 1e9, p.total / 1e9, n.active / 1e9, n.active_without_embedding / 1e9, p.active / 1e9);
    EXPECT_NEAR(n.total / p.total, 1.0, 0.02);
    EXPECT_NEAR(active / p.active, 1.0, 0.02);
    EXPECT_NEAR(n.active - n.active_without_embedding, n.embedding, 0.5);
  }
}

TEST(ParamCount, MixtralByHand) {
  // Mixtral-8x7B worked out independently: per layer attention 2*4096^2 + 2*4096*1024, 8 experts of
  // 3*4096*14336, router 8*4096, two norms; embeddings 32000*4096 twice; final norm.
  const ModelConfig c = load_model_config(test::fixtures_dir() + "/configs/Mixtral-8x7B-v0.1.json");
  const double attn = 2.0 * 4096 * 4096 + 2.0 * 4096 * 1024, expert = 3.0 * 4096 * 14336;
  const double layer_rest = attn + 8 * 4096 + 2 * 4096;
  const double emb = 32000.0 * 4096;
  const ParamCounts n = count_parameters(c);
  EXPECT_DOUBLE_EQ(n.total, 32 * (layer_rest + 8 * expert) + 2 * emb + 4096);
  EXPECT_DOUBLE_EQ(n.active, 32 * (layer_rest + 2 * expert) + 2 * emb + 4096);
  EXPECT_DOUBLE_EQ(n.embedding, emb);
}

TEST(ParamCount, DeepSeekV2LiteByHand) {
  // DeepSeek-V2-Lite worked out independently. Per layer MLA attention: q_proj 2048 -> 16*(128+64),
  // kv_a_proj_with_mqa 2048 -> 512+64, kv_a_layernorm 512, kv_b_proj 512 -> 16*(128+128), o_proj 16*128 -> 2048;
  // two norms. Layer 0 dense (3*2048*10944); layers 1..26: 64 routed experts and 2 shared (3*2048*1408 each),
  // router 64*2048. Embedding and lm_head 102400*2048, final norm 2048.
  const ModelConfig c = load_model_config(test::fixtures_dir() + "/configs/DeepSeek-V2-Lite.json");
  const double attn = 2048.0 * 3072 + 2048.0 * 576 + 512 + 512.0 * 4096 + 2048.0 * 2048 + 2 * 2048;
  const double expert = 3.0 * 2048 * 1408, dense = 3.0 * 2048 * 10944, router = 64.0 * 2048;
  const double emb = 102400.0 * 2048;
  const ParamCounts n = count_parameters(c);
  EXPECT_DOUBLE_EQ(n.total, 27 * attn + dense + 26 * (66 * expert + router) + 2 * emb + 2048);
  EXPECT_DOUBLE_EQ(n.active, 27 * attn + dense + 26 * (8 * expert + router) + 2 * emb + 2048);
  EXPECT_DOUBLE_EQ(n.embedding, emb);
  EXPECT_NEAR(n.total / 15.7e9, 1.0, 0.01);  // the paper's 15.7B total (its "2.4B activated" is 2.45B cut off)
}

TEST(ParamCount, Glm45AirByHand) {
  // GLM-4.5-Air worked out independently. Per layer: q_proj 4096 -> 96*128 with bias, k/v 4096 -> 8*128 with
  // bias, o_proj 96*128 -> 4096 without, two norms. Layer 0 dense (3*4096*10944); layers 1..45: 128 routed
  // experts and 1 shared (3*4096*1408 each), router 128*4096 and its 128 correction biases. Embedding and
  // lm_head 151552*4096, final norm. The MTP layer (model.layers.46) is not counted.
  const ModelConfig c = load_model_config(test::fixtures_dir() + "/configs/GLM-4.5-Air.json");
  const double attn = 4096.0 * 12288 + 12288 + 2 * (4096.0 * 1024 + 1024) + 12288.0 * 4096 + 2 * 4096;
  const double expert = 3.0 * 4096 * 1408, dense = 3.0 * 4096 * 10944, router = 128.0 * 4096 + 128;
  const double emb = 151552.0 * 4096;
  const ParamCounts n = count_parameters(c);
  EXPECT_DOUBLE_EQ(n.total, 46 * attn + dense + 45 * (129 * expert + router) + 2 * emb + 4096);
  EXPECT_DOUBLE_EQ(n.active, 46 * attn + dense + 45 * (9 * expert + router) + 2 * emb + 4096);
  EXPECT_NEAR(n.total / 106e9, 1.0, 0.02);  // Z.ai: 106B total (and "12B active", without both embeddings)
  EXPECT_NEAR((n.active - 2 * emb) / 12e9, 1.0, 0.02);
  // GLM-4.5: 355B total, 32B active (counted the same way)
  const ParamCounts big = count_parameters(load_model_config(test::fixtures_dir() + "/configs/GLM-4.5.json"));
  EXPECT_NEAR(big.total / 355e9, 1.0, 0.02);
  EXPECT_NEAR((big.active - 2 * big.embedding) / 32e9, 1.0, 0.02);
}

TEST(ParamCount, Ernie45By21BHand) {
  // ERNIE-4.5-21B-A3B worked out independently: per layer q/o 2560 x 20*128, k/v 2560 x 4*128 (no biases), two
  // norms; layer 0 dense (3*2560*12288); layers 1..27: 64 routed + 2 shared experts (3*2560*1536 each), router
  // 64*2560 and 64 correction biases; one tied 103424*2560 embedding; final norm. Baidu: "21B total, 3B active".
  const ModelConfig c = load_model_config(test::fixtures_dir() + "/configs/ERNIE-4.5-21B-A3B-PT.json");
  const double attn = 2 * 2560.0 * 2560 + 2 * 2560.0 * 512 + 2 * 2560;
  const double expert = 3.0 * 2560 * 1536, dense = 3.0 * 2560 * 12288, router = 64.0 * 2560 + 64;
  const double emb = 103424.0 * 2560;
  const ParamCounts n = count_parameters(c);
  EXPECT_DOUBLE_EQ(n.total, 28 * attn + dense + 27 * (66 * expert + router) + emb + 2560);
  EXPECT_DOUBLE_EQ(n.active, 28 * attn + dense + 27 * (8 * expert + router) + emb + 2560);
  EXPECT_NEAR(n.total / 21e9, 1.0, 0.05);  // the published figures are rounded to whole billions
  EXPECT_NEAR(n.active / 3e9, 1.0, 0.15);
}

TEST(ParamCount, TiedEmbeddingsCountOnce) {
  json j = fixture_config("qwen3_moe");
  const ParamCounts untied = count_parameters(parse(j));
  j["tie_word_embeddings"] = true;
  const ParamCounts tied = count_parameters(parse(j));
  EXPECT_DOUBLE_EQ(untied.total - tied.total, 384.0 * 64);
}

// ---- parsing -----------------------------------------------------------------------------------

TEST(ModelConfigParse, FixtureFamilies) {
  const ModelConfig mx = parse(fixture_config("mixtral"));
  EXPECT_EQ(mx.family, Family::Mixtral);
  EXPECT_EQ(mx.num_experts, 4);  // num_local_experts
  EXPECT_EQ(mx.head_dim, 16);    // head_dim null -> 64 / 4
  EXPECT_TRUE(mx.norm_topk_prob);
  EXPECT_EQ(mx.moe_intermediate_size, 96);
  EXPECT_EQ(mx.architecture, "MixtralForCausalLM");

  const ModelConfig ol = parse(fixture_config("olmoe"));
  EXPECT_TRUE(ol.qk_norm_full);
  EXPECT_FALSE(ol.norm_topk_prob);
  EXPECT_EQ(ol.clip_qkv, 0.0f);
  EXPECT_EQ(ol.pad_token_id, 1);

  const ModelConfig q2 = parse(fixture_config("qwen2_moe"));
  EXPECT_TRUE(q2.qkv_bias);
  EXPECT_EQ(q2.num_shared_experts, 1);
  EXPECT_EQ(q2.shared_intermediate_size, 64);
  EXPECT_TRUE(q2.shared_expert_gate);
  EXPECT_EQ(q2.num_experts_per_tok, 4);
  EXPECT_EQ(q2.sliding_window, 0);

  const ModelConfig q3 = parse(fixture_config("qwen3_moe"));
  EXPECT_EQ(q3.head_dim, 16);
  EXPECT_TRUE(q3.qk_norm_per_head);
  EXPECT_EQ(q3.num_experts, 8);  // transformers 5 writes num_local_experts here
  EXPECT_DOUBLE_EQ(q3.rope.theta, 1e6);
  EXPECT_FLOAT_EQ(q3.rms_norm_eps, 1e-6f);

  const ModelConfig ds = parse(fixture_config("deepseek_v3"));
  EXPECT_EQ(ds.attention, AttentionKind::MLA);
  EXPECT_EQ(ds.scoring, RouterScoring::SigmoidGroupTopK);
  EXPECT_TRUE(ds.score_correction_bias);
  EXPECT_EQ(ds.moe_layer_indices(), (std::vector<int>{1, 2}));
  EXPECT_EQ(ds.q_lora_rank, 32);
  EXPECT_EQ(ds.kv_lora_rank, 32);
  EXPECT_EQ(ds.qk_nope_head_dim, 16);
  EXPECT_EQ(ds.qk_rope_head_dim, 8);
  EXPECT_EQ(ds.v_head_dim, 16);
  EXPECT_EQ(ds.n_group, 2);
  EXPECT_EQ(ds.topk_group, 1);
  EXPECT_FLOAT_EQ(ds.routed_scaling_factor, 2.5f);
  EXPECT_EQ(ds.shared_intermediate_size, 32);
  EXPECT_TRUE(ds.rope.interleaved);
  EXPECT_EQ(ds.num_nextn_predict_layers, 1);
  EXPECT_EQ(ds.bos_token_id, 0);
  EXPECT_EQ(ds.eos_token_ids, std::vector<int>{1});
}

TEST(ModelConfigParse, RopeTopLevelAndNestedAgree) {
  json nested = fixture_config("qwen3_moe");
  json old = nested;
  old.erase("rope_parameters");
  old["rope_theta"] = 1000000.0;
  old["rope_scaling"] = nullptr;
  const ModelConfig a = parse(nested), b = parse(old);
  EXPECT_DOUBLE_EQ(a.rope.theta, b.rope.theta);
  EXPECT_EQ(a.rope.type, "default");
  EXPECT_EQ(b.rope.type, "default");
  // The demo's config is the old form.
  const ModelConfig demo = load_model_config(test::demo_model() + "/config.json");
  EXPECT_DOUBLE_EQ(demo.rope.theta, 10000.0);
}

TEST(ModelConfigParse, DeepSeekYarnRopeScaling) {
  const ModelConfig c = load_model_config(test::fixtures_dir() + "/configs/DeepSeek-V3.json");
  EXPECT_EQ(c.rope.type, "yarn");
  EXPECT_DOUBLE_EQ(c.rope.factor, 40);
  EXPECT_DOUBLE_EQ(c.rope.original_max_position, 4096);
  EXPECT_DOUBLE_EQ(c.rope.beta_fast, 32);
  EXPECT_DOUBLE_EQ(c.rope.beta_slow, 1);
  EXPECT_DOUBLE_EQ(c.rope.mscale, 1.0);
  EXPECT_DOUBLE_EQ(c.rope.mscale_all_dim, 1.0);
  EXPECT_DOUBLE_EQ(c.rope.theta, 10000);
  EXPECT_EQ(c.moe_layer_indices().front(), 3);  // first_k_dense_replace = 3
  EXPECT_EQ(c.num_moe_layers(), 58);
  EXPECT_EQ(c.n_group, 8);
  EXPECT_EQ(c.topk_group, 4);
  // transformers-5 nesting of the same values
  json j = fixture_config("deepseek_v3");
  j["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 40}, {"beta_fast", 32},
                          {"beta_slow", 1}, {"mscale", 1.0}, {"mscale_all_dim", 1.0},
                          {"original_max_position_embeddings", 4096}};
  const ModelConfig n = parse(j);
  EXPECT_EQ(n.rope.type, "yarn");
  EXPECT_DOUBLE_EQ(n.rope.factor, 40);
  EXPECT_DOUBLE_EQ(n.rope.mscale_all_dim, 1.0);
  // gpt-oss yarn with truncate false
  const ModelConfig g = load_model_config(test::fixtures_dir() + "/configs/gpt-oss-20b.json");
  EXPECT_EQ(g.rope.type, "yarn");
  EXPECT_FALSE(g.rope.truncate);
  EXPECT_DOUBLE_EQ(g.rope.factor, 32);
}

TEST(ModelConfigParse, DeepSeekV2ReleasedConfigs) {
  // V2-Lite: greedy top-6 of a softmax over 64 experts, q_proj (q_lora_rank null), old rope_scaling spelling.
  const ModelConfig lite = load_model_config(test::fixtures_dir() + "/configs/DeepSeek-V2-Lite.json");
  EXPECT_EQ(lite.family, Family::DeepSeekV2);
  EXPECT_EQ(lite.attention, AttentionKind::MLA);
  EXPECT_EQ(lite.scoring, RouterScoring::SoftmaxTopK);
  EXPECT_FALSE(lite.norm_topk_prob);
  EXPECT_FALSE(lite.score_correction_bias);
  EXPECT_EQ(lite.n_group, 1);
  EXPECT_FLOAT_EQ(lite.routed_scaling_factor, 1.0f);
  EXPECT_EQ(lite.q_lora_rank, 0);
  EXPECT_EQ(lite.kv_lora_rank, 512);
  EXPECT_EQ(lite.head_dim, 192);
  EXPECT_EQ(lite.num_experts, 64);
  EXPECT_EQ(lite.num_experts_per_tok, 6);
  EXPECT_EQ(lite.shared_intermediate_size, 2 * 1408);
  EXPECT_EQ(lite.moe_layer_indices().front(), 1);
  EXPECT_EQ(lite.num_moe_layers(), 26);
  EXPECT_TRUE(lite.rope.interleaved);
  EXPECT_EQ(lite.rope.type, "yarn");
  EXPECT_DOUBLE_EQ(lite.rope.mscale, 0.707);
  EXPECT_DOUBLE_EQ(lite.rope.mscale_all_dim, 0.707);
  EXPECT_EQ(lite.bos_token_id, 100000);
  // V2: group_limited_greedy over 8 groups of 20, 3 kept, weights x16.
  const ModelConfig v2 = load_model_config(test::fixtures_dir() + "/configs/DeepSeek-V2.json");
  EXPECT_EQ(v2.scoring, RouterScoring::SoftmaxGroupTopK);
  EXPECT_EQ(v2.n_group, 8);
  EXPECT_EQ(v2.topk_group, 3);
  EXPECT_FLOAT_EQ(v2.routed_scaling_factor, 16.0f);
  EXPECT_EQ(v2.q_lora_rank, 1536);
  // greedy ignores n_group / topk_group, whatever they say
  json j = fixture_config("deepseek_v2");
  j["topk_method"] = "greedy";
  j["n_group"] = 3;
  const ModelConfig greedy = parse(j);
  EXPECT_EQ(greedy.scoring, RouterScoring::SoftmaxTopK);
  EXPECT_EQ(greedy.n_group, 1);
}

TEST(ModelConfigParse, Glm45ReleasedConfigs) {
  const ModelConfig air = load_model_config(test::fixtures_dir() + "/configs/GLM-4.5-Air.json");
  EXPECT_EQ(air.family, Family::Glm4Moe);
  EXPECT_EQ(air.attention, AttentionKind::GQA);
  EXPECT_EQ(air.head_dim, 128);
  EXPECT_EQ(air.num_kv_heads, 8);
  EXPECT_TRUE(air.qkv_bias);
  EXPECT_FALSE(air.o_bias);
  EXPECT_FALSE(air.qk_norm_per_head);
  EXPECT_DOUBLE_EQ(air.rope.partial_rotary_factor, 0.5);
  EXPECT_DOUBLE_EQ(air.rope.theta, 1e6);
  EXPECT_EQ(air.scoring, RouterScoring::SigmoidGroupTopK);
  EXPECT_TRUE(air.score_correction_bias);
  EXPECT_TRUE(air.norm_topk_prob);
  EXPECT_EQ(air.n_group, 1);
  EXPECT_EQ(air.num_experts, 128);
  EXPECT_EQ(air.num_experts_per_tok, 8);
  EXPECT_EQ(air.shared_intermediate_size, 1408);
  EXPECT_EQ(air.num_moe_layers(), 45);
  EXPECT_EQ(air.num_nextn_predict_layers, 1);
  EXPECT_EQ(air.eos_token_ids, (std::vector<int>{151329, 151336, 151338}));
  const ModelConfig full = load_model_config(test::fixtures_dir() + "/configs/GLM-4.5.json");
  EXPECT_TRUE(full.qk_norm_per_head);
  EXPECT_FLOAT_EQ(full.routed_scaling_factor, 2.5f);
  EXPECT_EQ(full.moe_layer_indices().front(), 3);
  // transformers assumes partial_rotary_factor 0.5 when the config does not give one
  json j = fixture_config("glm4_moe");
  j.erase("partial_rotary_factor");
  j["rope_parameters"].erase("partial_rotary_factor");
  EXPECT_DOUBLE_EQ(parse(j).rope.partial_rotary_factor, 0.5);
  j["partial_rotary_factor"] = 1.0;
  EXPECT_DOUBLE_EQ(parse(j).rope.partial_rotary_factor, 1.0);
  j["partial_rotary_factor"] = 1.5;
  EXPECT_EQ(error_of(j), "dir/config.json: \"partial_rotary_factor\" must be in (0, 1], got 1.500000");
  j = fixture_config("glm4_moe");
  j["n_group"] = 3;
  EXPECT_EQ(error_of(j), "dir/config.json: n_group must divide n_routed_experts and 0 < topk_group <= n_group");
}

TEST(ModelConfigParse, Ernie45ReleasedConfigAndLayerRange) {
  const ModelConfig e = load_model_config(test::fixtures_dir() + "/configs/ERNIE-4.5-21B-A3B-PT.json");
  EXPECT_EQ(e.family, Family::Ernie45Moe);
  EXPECT_EQ(e.scoring, RouterScoring::SoftmaxTopK);
  EXPECT_TRUE(e.score_correction_bias);
  EXPECT_TRUE(e.norm_topk_prob);
  EXPECT_FLOAT_EQ(e.router_norm_min, 1e-12f);
  EXPECT_EQ(e.num_experts, 64);
  EXPECT_EQ(e.num_experts_per_tok, 6);
  EXPECT_EQ(e.shared_intermediate_size, 2 * 1536);
  EXPECT_TRUE(e.rope.interleaved);
  EXPECT_DOUBLE_EQ(e.rope.theta, 500000);
  EXPECT_TRUE(e.tie_word_embeddings);
  EXPECT_FALSE(e.qkv_bias);
  EXPECT_EQ(e.num_moe_layers(), 27);
  EXPECT_FALSE(e.layer_is_moe[0]);
  // moe_layer_start_index / end_index / interval: (i + 1) % interval == 0 and start <= i <= end
  json j = fixture_config("ernie4_5_moe");
  EXPECT_EQ(parse(j).moe_layer_indices(), (std::vector<int>{1, 2}));
  j["moe_layer_end_index"] = -1;  // transformers: the last layer
  EXPECT_EQ(parse(j).moe_layer_indices(), (std::vector<int>{1, 2, 3}));
  j["moe_layer_interval"] = 2;
  EXPECT_EQ(parse(j).moe_layer_indices(), (std::vector<int>{1, 3}));
  j["moe_layer_interval"] = 0;
  EXPECT_EQ(error_of(j), "dir/config.json: \"moe_layer_interval\" must be positive");
  j = fixture_config("ernie4_5_moe");
  j["use_bias"] = true;
  EXPECT_EQ(error_of(j), "dir/config.json: use_bias true is not supported for ernie4_5_moe");
  j = fixture_config("ernie4_5_moe");
  j["moe_gate_act"] = "sigmoid";
  EXPECT_EQ(error_of(j), "dir/config.json: moe_gate_act 'sigmoid' is not supported (ernie4_5_moe uses softmax)");
  j = fixture_config("ernie4_5_moe");
  j["moe_num_experts"] = json::array({8, 8});  // the multimodal (VL) configs: not this architecture
  EXPECT_NE(error_of(j).find("\"moe_num_experts\" must be an integer"), std::string::npos);
}

TEST(ModelConfigParse, GraniteMoeMultipliersAndSharedMlp) {
  json j = fixture_config("granitemoe");
  ModelConfig g = parse(j);
  EXPECT_EQ(g.family, Family::GraniteMoe);
  EXPECT_EQ(g.scoring, RouterScoring::SoftmaxTopK);
  EXPECT_TRUE(g.norm_topk_prob);  // softmax over the k best logits = the renormalised top-k of the softmax
  EXPECT_FLOAT_EQ(g.embedding_multiplier, j["embedding_multiplier"].get<float>());
  EXPECT_FLOAT_EQ(g.residual_multiplier, j["residual_multiplier"].get<float>());
  EXPECT_FLOAT_EQ(g.attention_multiplier, j["attention_multiplier"].get<float>());
  EXPECT_FLOAT_EQ(g.logits_scaling, j["logits_scaling"].get<float>());
  EXPECT_EQ(g.shared_intermediate_size, 0);
  EXPECT_EQ(g.num_moe_layers(), g.num_layers);
  // Absent keys take GraniteMoeConfig's defaults, as transformers reads the file: 1.0 for every multiplier (so
  // the attention scale is 1.0, not 1/sqrt(head_dim)), 8 experts, top-2.
  for (const char* k : {"embedding_multiplier", "residual_multiplier", "attention_multiplier", "logits_scaling",
                        "num_local_experts", "num_experts_per_tok"})
    j.erase(k);
  g = parse(j);
  EXPECT_EQ(g.embedding_multiplier, 1.0f);
  EXPECT_EQ(g.residual_multiplier, 1.0f);
  EXPECT_EQ(g.attention_multiplier, 1.0f);
  EXPECT_EQ(g.logits_scaling, 1.0f);
  EXPECT_EQ(g.num_experts, 8);
  EXPECT_EQ(g.num_experts_per_tok, 2);
  // shared_intermediate_size belongs to granitemoeshared; GraniteMoeConfig ignores it.
  j = fixture_config("granitemoe");
  j["shared_intermediate_size"] = 64;
  EXPECT_EQ(parse(j).shared_intermediate_size, 0);
  j["model_type"] = "granitemoeshared";
  EXPECT_EQ(parse(j).shared_intermediate_size, 64);
  EXPECT_EQ(parse(j).num_shared_experts, 1);
  const ModelConfig s = parse(fixture_config("granitemoe_shared"));
  EXPECT_EQ(s.family, Family::GraniteMoe);
  EXPECT_GT(s.shared_intermediate_size, 0);
  EXPECT_FALSE(s.shared_expert_gate);  // added unweighted
}

// IBM's granite-3.1-1b-a400m-instruct config.json. transformers 5.15 counts 1,334,628,352 parameters in
// GraniteMoeForCausalLM built from it (tied embeddings: one 49155 x 1024 table); the model card's "1.3B total,
// 400M active" are rounded, too coarse for the 2 % table above. Active by hand: 24 layers x (attention
// 1024*(1024+512+512) + 1024*1024, two norms, router 32*1024, 8 of 32 experts of 3*1024*512) + embedding + norm.
TEST(ModelConfigParse, Granite31ReleasedConfig) {
  const ModelConfig g = load_model_config(test::fixtures_dir() + "/configs/granite-3.1-1b-a400m-instruct.json");
  EXPECT_EQ(g.family, Family::GraniteMoe);
  EXPECT_EQ(g.num_experts, 32);
  EXPECT_EQ(g.num_experts_per_tok, 8);
  EXPECT_EQ(g.moe_intermediate_size, 512);
  EXPECT_EQ(g.head_dim, 64);
  EXPECT_FLOAT_EQ(g.embedding_multiplier, 12.0f);
  EXPECT_FLOAT_EQ(g.attention_multiplier, 0.015625f);  // 1/64 = 1/head_dim, not 1/sqrt(head_dim)
  EXPECT_FLOAT_EQ(g.residual_multiplier, 0.22f);
  EXPECT_FLOAT_EQ(g.logits_scaling, 6.0f);
  EXPECT_DOUBLE_EQ(g.rope.theta, 1500000.0);
  EXPECT_TRUE(g.tie_word_embeddings);
  const ParamCounts n = count_parameters(g);
  EXPECT_EQ(int64_t(n.total), 1334628352);
  const int64_t per_layer = 1024 * (1024 + 512 + 512) + 1024 * 1024 + 2 * 1024 + 32 * 1024 + 8 * 3 * 1024 * 512;
  EXPECT_EQ(int64_t(n.active), 24 * per_layer + 49155 * 1024 + 1024);
}

// Kimi-K2 (Moonshot) ships DeepseekV3ForCausalLM weights under model_type "kimi_k2"; Moonshot's deployment
// guide tells engines without that name to use deepseek_v3. The same config under either name is the same model.
TEST(ModelConfigParse, KimiK2IsDeepSeekV3) {
  std::ifstream in(test::fixtures_dir() + "/configs/DeepSeek-V3.json");
  json j = json::parse(in);
  const ModelConfig v3 = parse(j);
  j["model_type"] = "kimi_k2";
  const ModelConfig k2 = parse(j);
  EXPECT_EQ(k2.family, Family::DeepSeekV3);
  EXPECT_EQ(k2.model_type, "kimi_k2");
  EXPECT_EQ(k2.attention, AttentionKind::MLA);
  EXPECT_EQ(k2.scoring, v3.scoring);
  EXPECT_EQ(k2.moe_layer_indices(), v3.moe_layer_indices());
  EXPECT_EQ(k2.fp8_method, "fp8");
  EXPECT_EQ(count_parameters(k2).total, count_parameters(v3).total);
}

// dots.llm1: Qwen3's attention (per-head q/k norm) with DeepSeek-V3's router, shared experts and dense prefix;
// sliding-window layers exactly where Dots1Config puts them (from max_window_layers on, when sliding_window is set).
TEST(ModelConfigParse, Dots1RouterAndAttentionLayers) {
  json j = fixture_config("dots1");
  ModelConfig d = parse(j);
  EXPECT_EQ(d.family, Family::Dots1);
  EXPECT_EQ(d.scoring, RouterScoring::SigmoidGroupTopK);
  EXPECT_TRUE(d.score_correction_bias);
  EXPECT_EQ(d.n_group, 4);
  EXPECT_EQ(d.topk_group, 2);
  EXPECT_TRUE(d.norm_topk_prob);
  EXPECT_FLOAT_EQ(d.routed_scaling_factor, 2.5f);
  EXPECT_TRUE(d.qk_norm_per_head);
  EXPECT_EQ(d.shared_intermediate_size, 2 * 32);
  EXPECT_EQ(d.moe_layer_indices(), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(d.sliding_window, 0);
  j.erase("layer_types");
  j.erase("sliding_window");
  j.erase("max_window_layers");  // defaults 4096 and 62: every layer of this 4-layer model is full
  EXPECT_EQ(parse(j).sliding_window, 0);
  j["sliding_window"] = 8;
  j["max_window_layers"] = 2;
  d = parse(j);
  EXPECT_EQ(d.sliding_window, 8);
  EXPECT_EQ(d.layer_sliding, (std::vector<bool>{false, false, true, true}));
  j["use_sliding_window"] = false;  // not a Dots1Config key: transformers ignores it, and so do we
  EXPECT_EQ(parse(j).layer_sliding, (std::vector<bool>{false, false, true, true}));
  j["layer_types"] = {"sliding_attention", "full_attention", "full_attention", "full_attention"};
  EXPECT_EQ(parse(j).layer_sliding, (std::vector<bool>{true, false, false, false}));
  j["sliding_window"] = nullptr;
  EXPECT_EQ(error_of(j), "dir/config.json: \"layer_types\" has sliding_attention layers but no \"sliding_window\"");
  j = fixture_config("dots1");
  j["topk_group"] = 5;
  EXPECT_EQ(error_of(j), "dir/config.json: n_group must divide n_routed_experts and 0 < topk_group <= n_group");
}

TEST(ModelConfigErrors, GraniteMoeMultipliersItCannotUse) {
  for (const char* key : {"logits_scaling", "attention_multiplier"}) {
    for (const json bad : {json(0.0), json(-2.0)}) {
      json j = fixture_config("granitemoe");
      j[key] = bad;
      EXPECT_EQ(error_of(j), std::string("dir/config.json: \"") + key + "\" must be a finite positive number, got " +
                                 bad.dump());
    }
  }
  json j = fixture_config("granitemoe");
  j["embedding_multiplier"] = 1e300;
  EXPECT_EQ(error_of(j), "dir/config.json: \"embedding_multiplier\" must be a finite number, got 1e+300");
  j = fixture_config("granitemoe");
  j["residual_multiplier"] = "0.22";
  EXPECT_EQ(error_of(j), "dir/config.json: \"residual_multiplier\" must be a number, got \"0.22\"");
  j = fixture_config("granitemoe_shared");
  j["shared_intermediate_size"] = -1;
  EXPECT_EQ(error_of(j), "dir/config.json: \"shared_intermediate_size\" must not be negative");
  j = fixture_config("granitemoe");
  j["mlp_bias"] = true;
  EXPECT_EQ(error_of(j), "dir/config.json: \"mlp_bias\" true is not supported (Granite MoE experts have no biases)");
}

TEST(ModelConfigErrors, DeepSeekV2RouterSettingsItCannotRun) {
  json j = fixture_config("deepseek_v2");
  j["topk_method"] = "noaux_tc";
  EXPECT_EQ(error_of(j), "dir/config.json: topk_method 'noaux_tc' is not supported (deepseek_v2 uses greedy or "
                         "group_limited_greedy)");
  j = fixture_config("deepseek_v2");
  j["scoring_func"] = "sigmoid";
  EXPECT_EQ(error_of(j), "dir/config.json: scoring_func 'sigmoid' is not supported (deepseek_v2 uses softmax)");
  j = fixture_config("deepseek_v2");
  j["norm_topk_prob"] = true;
  EXPECT_NE(error_of(j).find("norm_topk_prob true is not supported for deepseek_v2"), std::string::npos);
  j = fixture_config("deepseek_v2");
  j["n_group"] = 3;  // 8 experts do not split into 3 groups
  EXPECT_EQ(error_of(j), "dir/config.json: n_group must divide n_routed_experts and 0 < topk_group <= n_group");
  j = fixture_config("deepseek_v2");
  j["topk_group"] = 1;  // one group of 2 experts cannot supply 3
  EXPECT_EQ(error_of(j), "dir/config.json: num_experts_per_tok is larger than the experts in topk_group groups");
  j = fixture_config("deepseek_v2");
  j.erase("n_group");
  EXPECT_NE(error_of(j).find("n_group"), std::string::npos);
  j = fixture_config("deepseek_v2");
  j["routed_scaling_factor"] = -1.0;
  EXPECT_EQ(error_of(j), "dir/config.json: \"routed_scaling_factor\" must be a positive number");
  j = fixture_config("deepseek_v2");
  j["mlp_bias"] = true;
  EXPECT_EQ(error_of(j), "dir/config.json: mlp_bias true is not supported for deepseek_v2");
}

TEST(ModelConfigParse, QwenDenseLayers) {
  json j = fixture_config("qwen2_moe");
  j["num_hidden_layers"] = 6;
  j["mlp_only_layers"] = {0, 3};
  j["decoder_sparse_step"] = 2;
  // MoE when (i+1) % 2 == 0 and i not in mlp_only_layers: 1, 5 (3 is listed)
  EXPECT_EQ(parse(j).moe_layer_indices(), (std::vector<int>{1, 5}));
  json q3 = fixture_config("qwen3_moe");
  q3["mlp_only_layers"] = {1};
  EXPECT_EQ(parse(q3).moe_layer_indices(), (std::vector<int>{0}));
}

TEST(ModelConfigParse, DeepSeekDenseLayersAndFrequency) {
  json j = fixture_config("deepseek_v3");
  j["num_hidden_layers"] = 8;
  j["first_k_dense_replace"] = 2;
  j["moe_layer_freq"] = 3;
  EXPECT_EQ(parse(j).moe_layer_indices(), (std::vector<int>{3, 6}));
  j.erase("q_lora_rank");  // null / absent -> plain q_proj
  EXPECT_EQ(parse(j).q_lora_rank, 0);
}

TEST(ModelConfigParse, HeadDimFromConfigOrHiddenOverHeads) {
  json j = fixture_config("mixtral");
  EXPECT_EQ(parse(j).head_dim, 16);
  j["head_dim"] = 32;
  EXPECT_EQ(parse(j).head_dim, 32);
}

TEST(ModelConfigParse, OutOfVocabularyTokenIdsAreWarnings) {
  const ModelConfig c = parse(fixture_config("olmoe"), "olmoe/config.json");
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("olmoe/config.json"), std::string::npos);
  EXPECT_NE(c.warnings[0].find("eos_token_id 50279"), std::string::npos);
  EXPECT_NE(c.warnings[0].find("vocab_size 384"), std::string::npos);
  json j = fixture_config("mixtral");
  j["eos_token_id"] = {2, 999};
  const ModelConfig m = parse(j);
  EXPECT_EQ(m.eos_token_ids, (std::vector<int>{2, 999}));
  EXPECT_EQ(m.warnings.size(), 1u);
}

TEST(ModelConfigParse, GptOssForInfo) {
  const ModelConfig g = load_model_config(test::fixtures_dir() + "/configs/gpt-oss-120b.json");
  EXPECT_EQ(g.family, Family::GptOss);
  EXPECT_EQ(g.scoring, RouterScoring::TopKSoftmax);
  EXPECT_EQ(g.num_experts, 128);
  EXPECT_EQ(g.num_experts_per_tok, 4);
  EXPECT_TRUE(g.layer_sliding[0]);
  EXPECT_FALSE(g.layer_sliding[1]);
  EXPECT_TRUE(g.attention_sinks);
}

// ---- errors ------------------------------------------------------------------------------------

TEST(ModelConfigErrors, UnsupportedArchitectureNamesFileAndList) {
  json j = fixture_config("mixtral");
  j["model_type"] = "llama";
  EXPECT_EQ(error_of(j, "/models/x/config.json"),
            "/models/x/config.json: unsupported architecture 'llama' (supported: mixtral, olmoe, qwen2_moe, "
            "qwen3_moe, deepseek_v2, deepseek_v3, kimi_k2, glm4_moe, ernie4_5_moe, gpt_oss, granitemoe, granitemoeshared, dots1, phimoe)");
}

// fuzz_model_config finding (2026-12-01): a non-number rope_parameters.rope_theta escaped as a JSON
// library exception instead of an Error naming the file and key.
TEST(ModelConfigErrors, RopeThetaOfTheWrongTypeIsAnError) {
  for (const json bad : {json::array({"full_attention"}), json("1e6"), json::object(), json(true)}) {
    json j = fixture_config("qwen2_moe");
    j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", bad}};
    EXPECT_NE(error_of(j).find("dir/config.json: \"rope_parameters.rope_theta\" must be a number, got " + bad.dump()),
              std::string::npos)
        << bad.dump();
  }
}

TEST(ModelConfigErrors, UnimplementedValuesAreErrors) {
  json j = fixture_config("mixtral");
  j["hidden_act"] = "gelu";
  EXPECT_NE(error_of(j).find("dir/config.json: hidden_act 'gelu' is not supported"), std::string::npos);

  j = fixture_config("mixtral");
  j["rope_parameters"] = {{"rope_type", "dynamic"}, {"rope_theta", 10000.0}, {"factor", 2.0}};
  EXPECT_NE(error_of(j).find("RoPE type 'dynamic' is not supported"), std::string::npos);

  j = fixture_config("mixtral");
  j.erase("rope_parameters");
  j["rope_theta"] = 10000.0;
  j["rope_scaling"] = {{"type", "longrope"}, {"factor", 2.0}};  // longrope needs its per-frequency factors
  EXPECT_NE(error_of(j).find("rope_scaling: longrope RoPE scaling needs a non-empty \"short_factor\" list"),
            std::string::npos);
  j["rope_scaling"] = {{"type", "su"}, {"factor", 2.0}};
  EXPECT_NE(error_of(j).find("rope_scaling: RoPE type 'su' is not supported"), std::string::npos);

  j = fixture_config("qwen2_moe");
  j["use_sliding_window"] = true;
  j["sliding_window"] = 128;
  EXPECT_NE(error_of(j).find("dir/config.json: use_sliding_window with sliding_window 128 < max_position_embeddings 512"),
            std::string::npos);
  j["sliding_window"] = 4096;  // a window wider than the context limits nothing
  EXPECT_EQ(error_of(j), "(no error)");

  j = fixture_config("deepseek_v3");
  j["scoring_func"] = "softmax";
  EXPECT_NE(error_of(j).find("scoring_func 'softmax' is not supported"), std::string::npos);

  j = fixture_config("mixtral");
  j["num_experts_per_tok"] = 5;
  EXPECT_NE(error_of(j).find("num_experts_per_tok (5)"), std::string::npos);
}

TEST(ModelConfigErrors, MissingKeysAndBadJson) {
  json j = fixture_config("qwen3_moe");
  j.erase("moe_intermediate_size");
  EXPECT_EQ(error_of(j), "dir/config.json: missing required key \"moe_intermediate_size\"");
  j = fixture_config("olmoe");
  j.erase("num_experts");
  EXPECT_NE(error_of(j).find("missing required key \"num_experts\" or \"num_local_experts\""), std::string::npos);
  j = fixture_config("mixtral");
  j["hidden_size"] = "64";
  EXPECT_NE(error_of(j).find("\"hidden_size\" must be an integer"), std::string::npos);
  try {
    parse_model_config("{\"model_type\": ", "bad/config.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad/config.json: invalid JSON"), std::string::npos);
  }
  EXPECT_THROW(load_model_config("/nonexistent/config.json"), Error);
}

// Fine-grained FP8 (quant_method "fp8"): the block size is read for the loader, every other FP8 flavour is an
// error naming the key; other quantisation methods stay a warning (the tensors then fail by dtype).
TEST(ModelConfig, Fp8QuantizationConfig) {
  json j = fixture_config("qwen3_moe_fp8");
  ModelConfig c = parse(j);
  EXPECT_EQ(c.fp8_block_rows, 128);
  EXPECT_EQ(c.fp8_block_cols, 128);
  EXPECT_EQ(c.fp8_activation_scheme, "dynamic");
  EXPECT_TRUE(c.warnings.empty());
  j["quantization_config"]["weight_block_size"] = {64, 256};
  c = parse(j);
  EXPECT_EQ(c.fp8_block_rows, 64);
  EXPECT_EQ(c.fp8_block_cols, 256);
  j["quantization_config"]["weight_block_size"] = {0, 128};
  EXPECT_EQ(error_of(j), "dir/config.json: quantization_config: \"weight_block_size\" must be two positive integers, got [0,128]");
  j["quantization_config"]["weight_block_size"] = {128, 96};
  EXPECT_EQ(error_of(j), "dir/config.json: quantization_config: \"weight_block_size\" [128,96]: the engine needs blocks of "
                         "a multiple of 128 columns (released FP8 checkpoints use [128, 128])");
  j["quantization_config"]["weight_block_size"] = "128x128";
  EXPECT_NE(error_of(j).find("must be two positive integers, got \"128x128\""), std::string::npos);
  j = fixture_config("qwen3_moe_fp8");
  j["quantization_config"]["activation_scheme"] = 3;
  EXPECT_EQ(error_of(j), "dir/config.json: quantization_config: \"activation_scheme\" must be a string, got 3");
  j = fixture_config("qwen3_moe_fp8");
  j["quantization_config"]["fmt"] = "e5m2";
  EXPECT_EQ(error_of(j), "dir/config.json: quantization_config: \"fmt\" \"e5m2\" is not supported (FP8 weights must be e4m3)");
  j = fixture_config("qwen3_moe_fp8");
  j["quantization_config"] = {{"quant_method", "awq"}, {"bits", 4}};
  c = parse(j);
  EXPECT_EQ(c.fp8_block_rows, 0);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("quantization_config (\"awq\") present"), std::string::npos);
}

// Phi-3.5-MoE: LayerNorm with biases, attention and lm_head biases, the sparsemixer router with its jitter eps, and
// longrope factors, read from transformers 5's rope_parameters and from the released checkpoint's older form
// (top-level rope_theta, "rope_scaling" with "type": "longrope").
TEST(ModelConfigParse, PhiMoeLayerNormSparseMixerAndLongrope) {
  json j = fixture_config("phimoe");
  const ModelConfig c = parse(j);
  EXPECT_EQ(c.family, Family::PhiMoE);
  EXPECT_TRUE(c.layer_norm);
  EXPECT_TRUE(c.lm_head_bias);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_TRUE(c.o_bias);
  EXPECT_EQ(c.scoring, RouterScoring::SparseMixer);
  EXPECT_FLOAT_EQ(c.router_jitter_noise, 0.25f);
  EXPECT_EQ(c.num_experts_per_tok, 2);
  EXPECT_EQ(c.rope.type, "longrope");
  ASSERT_EQ(c.rope.short_factor.size(), 8u);
  EXPECT_DOUBLE_EQ(c.rope.short_factor[1], j["rope_parameters"]["short_factor"][1].get<double>());
  EXPECT_DOUBLE_EQ(c.rope.short_mscale, 1.25);
  EXPECT_DOUBLE_EQ(c.rope.original_max_position, 1024);

  json old = j;  // as Phi-3.5-MoE-instruct's config.json writes it
  old.erase("rope_parameters");
  old["rope_theta"] = 10000.0;
  old["rope_scaling"] = j["rope_parameters"];
  old["rope_scaling"].erase("rope_theta");
  old["rope_scaling"].erase("rope_type");
  old["rope_scaling"]["type"] = "longrope";
  const ModelConfig o = parse(old);
  EXPECT_EQ(o.rope.type, "longrope");
  EXPECT_EQ(o.rope.short_factor, c.rope.short_factor);
  EXPECT_EQ(o.rope.long_factor, c.rope.long_factor);

  EXPECT_DOUBLE_EQ(o.rope.theta, 10000.0);
  old.erase("rope_theta");  // PhimoeConfig's default_theta, unlike Mixtral's 1e4 fallback
  EXPECT_DOUBLE_EQ(parse(old).rope.theta, 1e6);

  json bad = j;
  bad["num_experts_per_tok"] = 3;
  EXPECT_EQ(error_of(bad), "dir/config.json: num_experts_per_tok is 3, but Phi-MoE's sparsemixer router always picks 2 "
                           "experts (as transformers runs it)");
  bad = j;
  bad["router_jitter_noise"] = -0.1;
  EXPECT_NE(error_of(bad).find("\"router_jitter_noise\" must be a non-negative number"), std::string::npos);
  bad = j;
  bad["rope_parameters"]["short_factor"].erase(0);
  EXPECT_NE(error_of(bad).find("\"short_factor\" and \"long_factor\" differ in length (7 and 8)"), std::string::npos);
  bad["rope_parameters"]["long_factor"].erase(0);
  EXPECT_EQ(error_of(bad), "dir/config.json: longrope factors have 7 entries, the rotary dimension 16 needs 8");
  bad = j;
  bad["rope_parameters"]["short_factor"][2] = "x";
  EXPECT_NE(error_of(bad).find("rope_parameters.short_factor: every factor must be a positive number, got \"x\""),
            std::string::npos);
}
