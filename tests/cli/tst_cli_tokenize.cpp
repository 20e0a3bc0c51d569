// `moescope tokenize` run as a process: encodes / decodes every case of the tokenizer fixtures
// (tests/fixtures/tokenizers/*/cases.json) and reports bad input as one line on stderr with a
// non-zero exit code.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/fixtures.h"
#include "tests/support/process.h"

using nlohmann::json;

namespace {

using moescope::test::ProcResult;
using moescope::test::slurp;

ProcResult run_tokenize(const std::string& args, const std::string& stdin_bytes) {
  return moescope::test::run_moescope("tokenize " + args, stdin_bytes);
}

class CliTokenize : public ::testing::TestWithParam<std::string> {};

TEST_P(CliTokenize, EncodesAndDecodesEveryFixtureCase) {
  const std::string dir = moescope::test::tokenizer_fixture(GetParam());
  std::ifstream cin(dir + "/cases.json");
  const json cases = json::parse(cin)["cases"];
  int checked = 0;
  for (const auto& c : cases) {
    const std::string text = c["text"];
    SCOPED_TRACE(json(text).dump());
    ProcResult r = run_tokenize("'" + dir + "'", text);  // MODEL as a directory
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "one line of JSON";
    json j = json::parse(r.out);
    EXPECT_EQ(j["ids"], c["ids"]);
    EXPECT_EQ(j["tokens"], c["tokens"]);
    r = run_tokenize("'" + dir + "/tokenizer.json' --add-special-tokens", text);  // MODEL as the file
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["ids"], c["ids_with_special"]);
    r = run_tokenize("'" + dir + "' --decode", c["ids"].dump());
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["text"], c["decoded"]);
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CliTokenize,
                         ::testing::Values("qwen_bytelevel", "gpt2_bytelevel", "llama3_bytelevel", "sentencepiece_bpe"));

TEST(CliTokenizeErrors, BadInputIsOneLineOnStderrAndNonZeroExit) {
  const std::string tok = "'" + moescope::test::tokenizer_fixture("qwen_bytelevel") + "'";
  struct Case {
    std::string args, input, expect;
  };
  const std::vector<Case> cases = {
      {tok + " --decode", "not json", "JSON array"},
      {tok + " --decode", "{\"ids\": [1]}", "JSON array"},
      {tok + " --decode", "[1, \"a\"]", "element 1"},
      {tok + " --decode", "[1, 2000]", "element 1 (2000)"},
      {tok + " --decode", "[-1]", "element 0"},
      {"/nonexistent/dir", "hi", "/nonexistent/dir"},
      {tok + " --bogus", "hi", "unknown option"},
      {"", "hi", "missing MODEL"},
  };
  for (const auto& c : cases) {
    const ProcResult r = run_tokenize(c.args, c.input);
    EXPECT_NE(r.code, 0) << c.args;
    EXPECT_TRUE(r.out.empty()) << c.args;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("moescope tokenize: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
  }
}

TEST(CliTokenizeErrors, InvalidUtf8OnStdinIsRepairedNotFatal) {
  const std::string tok = "'" + moescope::test::tokenizer_fixture("gpt2_bytelevel") + "'";
  const ProcResult bad = run_tokenize(tok, "a\xFF" "b");
  const ProcResult fixed = run_tokenize(tok, "a\xEF\xBF\xBD" "b");
  ASSERT_EQ(bad.code, 0) << bad.err;
  EXPECT_EQ(json::parse(bad.out)["ids"], json::parse(fixed.out)["ids"]);
}

}  // namespace
