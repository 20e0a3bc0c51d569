// Tokenizer against the recorded expectations in tests/fixtures/tokenizers/*/cases.json (ids,
// tokens, ids with special tokens, decoded text), vocab size and special ids vs tokenizer_config.json,
// and the demo checkpoint's tokenizer.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"
#include "tests/support/fixtures.h"

using moescope::Tokenizer;
using nlohmann::json;

namespace {

json read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return json::parse(in);
}

class TokenizerFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerFixture, MatchesEveryCase) {
  const std::string dir = moescope::test::tokenizer_fixture(GetParam());
  auto tok = Tokenizer::load(dir);
  const json cases = read_json(dir + "/cases.json");
  ASSERT_GE(cases["cases"].size(), 30u);
  for (const auto& c : cases["cases"]) {
    const std::string text = c["text"];
    SCOPED_TRACE("text: " + json(text).dump());
    const auto enc = tok->encode_with_tokens(text, false);
    EXPECT_EQ(enc.ids, c["ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(enc.tokens, c["tokens"].get<std::vector<std::string>>());
    EXPECT_EQ(tok->encode(text, true), c["ids_with_special"].get<std::vector<int32_t>>());
    EXPECT_EQ(tok->decode(c["ids"].get<std::vector<int32_t>>(), false), c["decoded"].get<std::string>());
    // token_text is the vocab string of each id
    for (size_t i = 0; i < enc.ids.size(); ++i) EXPECT_EQ(tok->token_text(enc.ids[i]), c["tokens"][i].get<std::string>());
  }
}

TEST_P(TokenizerFixture, VocabSizeAndSpecialIdsMatchConfig) {
  const std::string dir = moescope::test::tokenizer_fixture(GetParam());
  auto tok = Tokenizer::load(dir);
  EXPECT_EQ(tok->vocab_size(), 2000);  // README: model vocab + added tokens = 2000 for every fixture
  const json cfg = read_json(dir + "/tokenizer_config.json");
  for (const auto& [id_str, entry] : cfg["added_tokens_decoder"].items()) {
    const int32_t id = std::stoi(id_str);
    EXPECT_EQ(tok->token_to_id(entry["content"].get<std::string>()), id);
    EXPECT_EQ(tok->token_text(id), entry["content"].get<std::string>());
    EXPECT_EQ(tok->is_special(id), entry["special"].get<bool>()) << id;
  }
  auto id_of = [&](const char* key) {
    return cfg.contains(key) && cfg[key].is_string() ? tok->token_to_id(cfg[key].get<std::string>()) : -1;
  };
  EXPECT_EQ(tok->bos_id(), id_of("bos_token"));
  ASSERT_FALSE(tok->eos_ids().empty());
  EXPECT_EQ(tok->eos_ids().front(), id_of("eos_token"));
  EXPECT_FALSE(tok->is_special(5));  // an ordinary vocab entry
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TokenizerFixture,
                         ::testing::Values("qwen_bytelevel", "gpt2_bytelevel", "llama3_bytelevel", "sentencepiece_bpe"));

TEST(Tokenizer, SkipSpecialTokensDropsOnlySpecialOnes) {
  // qwen: <|im_start|> is special, <tool_call> is not (README).
  auto tok = Tokenizer::load(moescope::test::tokenizer_fixture("qwen_bytelevel"));
  const auto ids = tok->encode("<|im_start|>hi<tool_call>x<|im_end|>", false);
  EXPECT_EQ(tok->decode(ids, true), "hi<tool_call>x");
  EXPECT_EQ(tok->decode(ids, false), "<|im_start|>hi<tool_call>x<|im_end|>");
}

TEST(Tokenizer, LoadsDemoCheckpointTokenizer) {
  auto tok = Tokenizer::load(moescope::test::demo_model());
  const json tj = read_json(moescope::test::demo_model() + "/tokenizer.json");
  EXPECT_EQ(tok->vocab_size(), static_cast<int32_t>(tj["model"]["vocab"].size()));
  EXPECT_EQ(tok->token_to_id("<|endoftext|>"), 0);
  EXPECT_TRUE(tok->is_special(0));
  EXPECT_EQ(tok->bos_id(), -1);  // tokenizer_config: bos_token null
  ASSERT_FALSE(tok->eos_ids().empty());
  EXPECT_EQ(tok->eos_ids().front(), 0);
  const std::string text = "The router selects the top-2 experts.\n  déjà vu 123";
  const auto ids = tok->encode(text, true);
  EXPECT_FALSE(ids.empty());
  EXPECT_EQ(tok->decode(ids), text);  // byte-level + NFC-stable text round-trips
  // Prompts of the demo dataset round-trip too.
  std::ifstream prompts(std::string(MOESCOPE_DATASETS_DIR) + "/prompts/demo-domains.jsonl");
  int n = 0;
  for (std::string line; std::getline(prompts, line);) {
    if (line.empty()) continue;
    const json p = json::parse(line);
    for (const auto& [k, v] : p.items()) {
      if (!v.is_string()) continue;
      const std::string s = v.get<std::string>();
      EXPECT_EQ(tok->decode(tok->encode(s, false)), s);
      ++n;
    }
  }
  EXPECT_GT(n, 0);
}

}  // namespace
