// `moescope generate/trace/bench --backend cuda` as processes, on every machine: without a usable
// CUDA device (or without a CUDA build) each prints one "no CUDA device: ..." line and exits 1; with a
// device each succeeds, and generate's greedy ids match transformers.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/engine/tst_cuda_skip.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"
#include "tests/support/reference.h"

namespace {

using moescope::test::ProcResult;

ProcResult run_cli(const std::string& args) { return moescope::test::run_moescope(args); }

std::string join(const std::vector<int32_t>& ids, const char* sep) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? sep : "") + std::to_string(ids[i]);
  return s;
}

class CudaCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(moescope::test::moescope_binary()))
        << moescope::test::moescope_binary() << " is not built (build the 'moescope' target)";
  }
  // Without a device: exit 1 and exactly one stderr line naming the missing device.
  static void expect_no_device(const ProcResult& r, const std::string& what) {
    EXPECT_EQ(r.code, 1) << what << ": " << r.err;
    EXPECT_NE(r.err.find("no CUDA device"), std::string::npos) << what << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << what << ": " << r.err;
#ifdef MOESCOPE_HAVE_CUDA
    // A CUDA build reports the runtime's own reason, exactly as the engine words it.
    EXPECT_NE(r.err.find(moescope::test::cuda_skip_reason()), std::string::npos) << what << ": " << r.err;
#endif
  }
};

TEST_F(CudaCli, Generate) {
  const moescope::test::Reference ref(moescope::test::model_reference("mixtral"));
  const ProcResult r = run_cli("generate '" + moescope::test::model_fixture("mixtral") + "' --prompt-ids " +
                               join(ref.ids("greedy.prompt"), ",") + " --max-new-tokens 10 --ignore-eos --backend cuda");
  if (!moescope::test::cuda_skip_reason().empty()) return expect_no_device(r, "generate");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, join(ref.ids("greedy.ids"), "\n") + "\n");
}

TEST_F(CudaCli, Trace) {
  const std::string out = moescope::test::temp_dir("cuda-cli-trace") + "/t.h5";
  const ProcResult r = run_cli("trace '" + moescope::test::model_fixture("mixtral") +
                               "' --prompt-ids 1,2,3,4 --max-new-tokens 3 --backend cuda -o '" + out + "'");
  if (!moescope::test::cuda_skip_reason().empty()) {
    expect_no_device(r, "trace");
    return;
  }
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(out));
}

TEST_F(CudaCli, Bench) {
  const ProcResult r = run_cli("bench '" + moescope::test::model_fixture("mixtral") +
                               "' --backend cuda --prompt-len 8 --gen 4 --json");
  if (!moescope::test::cuda_skip_reason().empty()) {
    expect_no_device(r, "bench");
    return;
  }
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"cuda\""), std::string::npos) << r.out;
}

}  // namespace
