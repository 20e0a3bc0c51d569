// `moescope generate` run as a process: greedy ids (no tokenizer) and text (demo) against the
// Hugging Face references, reproducible sampling, and one-line usage errors with their exit codes.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/tokenizer/tokenizer.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"
#include "tests/support/reference.h"

namespace {

using moescope::test::ProcResult;

ProcResult run_generate(const std::string& args) { return moescope::test::run_moescope("generate " + args); }

std::string join(const std::vector<int32_t>& ids, const char* sep) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? sep : "") + std::to_string(ids[i]);
  return s;
}

TEST(CliGenerate, GreedyIdsWithoutTokenizerMatchTransformers) {
  const moescope::test::Reference ref(moescope::test::model_reference("deepseek_v3"));
  const ProcResult r = run_generate("'" + moescope::test::model_fixture("deepseek_v3") + "' --prompt-ids " +
                                    join(ref.ids("greedy.prompt"), ",") + " --max-new-tokens 10 --ignore-eos");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, join(ref.ids("greedy.ids"), "\n") + "\n");
}

TEST(CliGenerate, DemoTextIsTheDecodedGreedyContinuation) {
  const moescope::test::Reference ref(moescope::test::demo_reference());
  const auto tok = moescope::Tokenizer::load(moescope::test::demo_model());
  const auto ids = ref.ids("python.greedy.ids");
  // stop before an EOS id, as the command does
  std::vector<int32_t> expect;
  for (int32_t id : ids) {
    if (id == 0) break;
    expect.push_back(id);
  }
  const ProcResult r = run_generate("'" + moescope::test::demo_model() + "' --prompt-ids " +
                                    join(ref.ids("python.input_ids"), ",") + " --max-new-tokens " +
                                    std::to_string(ids.size()));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, tok->decode(expect, true) + "\n");
}

TEST(CliGenerate, SeededSamplingIsReproducible) {
  const std::string args = "'" + moescope::test::demo_model() +
                           "' --prompt 'import os' --max-new-tokens 12 --temperature 0.9 --top-p 0.95 --seed 7";
  const ProcResult a = run_generate(args), b = run_generate(args);
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_FALSE(a.out.empty());
}

TEST(CliGenerate, ErrorsAreOneLineWithExitCodes) {
  const std::string model = "'" + moescope::test::model_fixture("mixtral") + "'";
  struct Case {
    std::string args;
    int code;
    std::string needle;
  } cases[] = {
      {"", 2, "missing MODEL"},
      {model, 2, "exactly one of --prompt"},
      {model + " --prompt-ids 1,x", 2, "--prompt-ids"},
      {model + " --prompt-ids 1 --greedy --temperature 2", 2, "--greedy"},
      {model + " --prompt-ids 1 --bogus", 2, "unknown option"},
      {model + " --prompt hello", 1, "tokenizer"},
      {model + " --prompt-ids 1,99999", 1, "outside the vocabulary"},
      {model + " --prompt-ids 1 --strategy nonsense", 1, "nonsense"},
      {model + " --prompt-ids 1 --temperature 0", 1, "temperature"},
      {"/nonexistent/model --prompt-ids 1", 1, "/nonexistent/model"},
  };
  for (const auto& c : cases) {
    const ProcResult r = run_generate(c.args);
    EXPECT_EQ(r.code, c.code) << c.args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("moescope generate: error: ", 0), 0u) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << "\n" << r.err;
    if (c.code == 1) EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << "\n" << r.err;
  }
}

}  // namespace
