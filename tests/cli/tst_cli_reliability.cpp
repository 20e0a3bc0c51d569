// Reliability of `moescope` as a process: checkpoints larger than memory are mapped, not read (RSS stays
// small on a sparse multi-GB checkpoint made here), prompts beyond the context, absurd flags, a full disk
// (RLIMIT_FSIZE in the child, and a small tmpfs when we may mount one) and a read-only output path give
// one-line errors, and a trace cut short by a full disk still opens with what was flushed.
// docs/reliability.md lists the messages.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/checkpoint/safetensors_file.h"
#include "engine/util/error.h"
#include "probes/trace/trace_reader.h"
#include "tests/support/fixtures.h"

using namespace moescope;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Proc {
  int code = -1;    // exit status, -1 when killed by a signal
  int signal = 0;   // the signal that killed it
  long maxrss_kb = 0;
  std::string out, err;
};

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the binary with `args`; `fsize_limit` > 0 sets RLIMIT_FSIZE (bytes) in the child only.
Proc run(const std::vector<std::string>& args, rlim_t fsize_limit = 0) {
  const std::string dir = test::temp_dir("cli-rel");
  const std::string out_path = dir + "/stdout", err_path = dir + "/stderr";
  const pid_t pid = fork();
  if (pid == 0) {
    if (fsize_limit) {
      struct rlimit r{fsize_limit, fsize_limit};
      setrlimit(RLIMIT_FSIZE, &r);
    }
    const int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> argv;
    const std::string bin = test::moescope_binary();
    argv.push_back(const_cast<char*>(bin.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  Proc p;
  int status = 0;
  struct rusage ru{};
  wait4(pid, &status, 0, &ru);
  p.maxrss_kb = ru.ru_maxrss;
  if (WIFEXITED(status)) p.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) p.signal = WTERMSIG(status);
  p.out = slurp(out_path);
  p.err = slurp(err_path);
  return p;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

// The contract of cli.h: exactly one line "moescope <cmd>: error: ..." (usage lines may follow it).
void expect_one_error_line(const Proc& p, const std::string& cmd, const std::string& needle) {
  EXPECT_EQ(p.signal, 0) << "killed by signal " << p.signal << "\n" << p.err;
  EXPECT_NE(p.code, 0);
  const auto ls = lines(p.err);
  ASSERT_FALSE(ls.empty());
  EXPECT_EQ(ls[0].rfind("moescope " + cmd + ": error: ", 0), 0u) << p.err;
  EXPECT_NE(ls[0].find(needle), std::string::npos) << "expected '" << needle << "' in: " << ls[0];
  int error_lines = 0;
  for (const auto& l : ls) error_lines += l.find(": error:") != std::string::npos;
  EXPECT_EQ(error_lines, 1) << p.err;
  EXPECT_EQ(p.err.find("AddressSanitizer"), std::string::npos);
}

void write_safetensors_header(const std::string& path, const json& header, uint64_t data_bytes) {
  std::string h = header.dump();
  while ((8 + h.size()) % 8) h += ' ';
  std::ofstream f(path, std::ios::binary);
  const uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) f.put(char((n >> (8 * i)) & 0xff));
  f << h;
  f.close();
  fs::resize_file(path, 8 + h.size() + data_bytes);  // sparse: no data blocks are written
}

// The mixtral fixture's layout with every expert matrix widened to `inter` rows/cols, zero (sparse)
// data; returns the number of parameters the header declares.
int64_t make_big_mixtral(const std::string& dir, int64_t inter) {
  fs::create_directories(dir);
  json cfg = json::parse(slurp(test::model_fixture("mixtral") + "/config.json"));
  const int64_t old_inter = cfg["intermediate_size"].get<int64_t>();
  cfg["intermediate_size"] = inter;
  std::ofstream(dir + "/config.json") << cfg.dump(2);
  SafetensorsFile src(test::model_fixture("mixtral") + "/model.safetensors");
  json header = json::object();
  uint64_t off = 0;
  int64_t params = 0;
  for (const auto& e : src.entries()) {
    std::vector<int64_t> shape = e.shape;
    if (e.name.find(".experts.") != std::string::npos)
      for (auto& d : shape)
        if (d == old_inter) d = inter;
    int64_t n = 1;
    for (auto d : shape) n *= d;
    params += n;
    const uint64_t bytes = uint64_t(n) * 4;  // F32, as in the fixture
    EXPECT_EQ(e.dtype, DType::F32);
    header[e.name] = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {off, off + bytes}}};
    off += bytes;
  }
  write_safetensors_header(dir + "/model.safetensors", header, off);
  return params;
}

std::string join_ids(int n, int id) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? "," : "") + std::to_string(id);
  return s;
}

}  // namespace

// 6 GiB of sparse weights: `info` validates every tensor against the file and counts parameters, but
// the mapping is never read, so the process stays far below the checkpoint's size.
TEST(CliReliability, CheckpointLargerThanMemoryIsMappedNotRead) {
  const std::string dir = test::temp_dir("cli-rel") + "/big";
  const int64_t params = make_big_mixtral(dir, 1 << 20);
  const uint64_t size = fs::file_size(dir + "/model.safetensors");
  ASSERT_GT(size, 6ull << 30);
  const Proc p = run({"info", dir});
  ASSERT_EQ(p.code, 0) << p.err;
  const json j = json::parse(p.out);
  EXPECT_EQ(j["checkpoint_params"].get<int64_t>(), params);
  EXPECT_TRUE(j["checkpoint_params_match"].get<bool>());
  EXPECT_LT(p.maxrss_kb, 200 * 1024) << "RSS " << p.maxrss_kb << " kB for a " << (size >> 20) << " MiB checkpoint";
  struct stat st{};
  ASSERT_EQ(stat((dir + "/model.safetensors").c_str(), &st), 0);
  EXPECT_LT(uint64_t(st.st_blocks) * 512, 1u << 20) << "the checkpoint was written to (no longer sparse)";

  // In-process too: opening maps the file; the resident set does not grow by the file's size.
  auto rss_kb = [] {
    std::ifstream s("/proc/self/statm");
    long pages = 0, resident = 0;
    s >> pages >> resident;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
  };
  const long before = rss_kb();
  SafetensorsFile big(dir + "/model.safetensors");
  EXPECT_GT(big.entries().size(), 10u);
  EXPECT_LT(rss_kb() - before, 64 * 1024);
}

TEST(CliReliability, PromptBeyondContextIsOneLineError) {
  const std::string model = test::model_fixture("mixtral");
  const int ctx = json::parse(slurp(model + "/config.json"))["max_position_embeddings"].get<int>();
  const Proc g = run({"generate", model, "--prompt-ids", join_ids(ctx + 1, 5), "--max-new-tokens", "1"});
  expect_one_error_line(g, "generate", "exceeds the context of " + std::to_string(ctx));

  const std::string out = test::temp_dir("cli-rel") + "/ctx.h5";
  const Proc t = run({"trace", model, "--prompt-ids", join_ids(ctx + 1, 5), "--max-new-tokens", "1", "-o", out});
  expect_one_error_line(t, "trace", std::to_string(ctx));
  if (fs::exists(out)) EXPECT_NO_THROW(TraceReader r(out));  // a trace left behind still opens

  // A prompt that fits, with more new tokens than room: generation stops at the context, not an error,
  // and says so on stderr.
  const Proc fit = run({"generate", model, "--prompt-ids", join_ids(ctx - 3, 5), "--max-new-tokens", "50",
                        "--greedy", "--ignore-eos"});
  EXPECT_EQ(fit.code, 0) << fit.err;
  EXPECT_EQ(lines(fit.out).size(), 3u) << "one id per line for a checkpoint without tokenizer";
  EXPECT_NE(fit.err.find("stopped after 3 new tokens at the context limit of " + std::to_string(ctx)),
            std::string::npos)
      << fit.err;
}

TEST(CliReliability, AbsurdFlagsAreOneLineErrors) {
  const std::string model = test::model_fixture("mixtral");
  struct Case {
    std::vector<std::string> args;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {{"--max-new-tokens", "-1"}, "--max-new-tokens"},
      {{"--max-new-tokens", "99999999999"}, "--max-new-tokens"},
      {{"--max-new-tokens", "abc"}, "--max-new-tokens"},
      {{"--temperature", "-1"}, "temperature"},
      {{"--top-p", "2"}, "top-p"},
      {{"--top-k", "-3"}, "--top-k"},
      {{"--seed", "-5"}, "--seed"},
      {{"--bogus"}, "--bogus"},
      {{"--strategy", "no-such-strategy"}, "no-such-strategy"},
      {{"--max-new-tokens"}, "--max-new-tokens"},  // missing value
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"generate", model, "--prompt-ids", "1,2,3"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    SCOPED_TRACE(c.args[0]);
    expect_one_error_line(run(args), "generate", c.needle);
  }
  const Proc unknown = run({"frobnicate"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("unknown command 'frobnicate'"), std::string::npos) << unknown.err;
}

TEST(CliReliability, BadCheckpointsAreOneLineErrors) {
  const std::string root = test::temp_dir("cli-rel");
  // Truncated: the header promises more data than the file holds.
  const std::string trunc = root + "/trunc";
  fs::create_directories(trunc);
  fs::copy_file(test::model_fixture("mixtral") + "/config.json", trunc + "/config.json");
  fs::copy_file(test::model_fixture("mixtral") + "/model.safetensors", trunc + "/model.safetensors");
  fs::resize_file(trunc + "/model.safetensors", fs::file_size(trunc + "/model.safetensors") - 1000);
  expect_one_error_line(run({"generate", trunc, "--prompt-ids", "1"}), "generate", "model.safetensors");
  // Malformed config.json.
  const std::string badjson = root + "/badjson";
  fs::create_directories(badjson);
  std::ofstream(badjson + "/config.json") << "{\"model_type\": \"mixtral\", \"hidden_size\": ";
  expect_one_error_line(run({"info", badjson}), "info", "config.json");
  // Unknown architecture.
  const std::string arch = root + "/arch";
  fs::create_directories(arch);
  std::ofstream(arch + "/config.json") << R"({"model_type": "llama", "architectures": ["LlamaForCausalLM"]})";
  expect_one_error_line(run({"info", arch}), "info", "llama");
  // Corrupt trace: a fixture checkpoint renamed .h5.
  expect_one_error_line(run({"export", test::model_fixture("mixtral") + "/model.safetensors", "--csv", root + "/csv"}),
                        "export", "model.safetensors");
}

namespace {
// 40 prompts of 3 ids, 30 new tokens each: many runs, each flushed when it ends.
std::string many_prompts() {
  const std::string p = test::temp_dir("cli-rel") + "/many.jsonl";
  std::ofstream f(p);
  for (int i = 0; i < 40; ++i) f << "{\"ids\": [300, 301, " << 10 + i << "]}\n";
  return p;
}

void expect_partial_trace_readable(const std::string& path) {
  ASSERT_TRUE(fs::exists(path));
  std::vector<RunData> runs;
  ASSERT_NO_THROW(runs = read_trace(path));
  ASSERT_LT(runs.size(), 40u);
  for (size_t i = 0; i + 1 < runs.size(); ++i) {  // all but the last run finished before the disk filled
    EXPECT_TRUE(runs[i].complete) << runs[i].name;
    EXPECT_EQ(runs[i].num_tokens(), 3 + 30) << runs[i].name;
  }
  for (const auto& r : runs)
    for (int32_t e : r.experts) EXPECT_TRUE(e >= -1 && e < r.num_experts);
}
}  // namespace

// `ulimit -f`: without handling, SIGXFSZ kills the process and the file is left mid-flush.
TEST(CliReliability, FileSizeLimitIsDiskFullAndTraceStaysReadable) {
  const std::string out = test::temp_dir("cli-rel") + "/limited.h5";
  const Proc p = run({"trace", test::demo_model(), "--prompts", many_prompts(), "--max-new-tokens", "30",
                      "--ignore-eos", "--threads", "1", "-o", out},
                     1500 * 1024);
  expect_one_error_line(p, "trace", "disk full");
  expect_partial_trace_readable(out);
  EXPECT_GE(read_trace(out).size(), 2u);
}

// A real full file system: a 1 MiB tmpfs (needs CAP_SYS_ADMIN; skipped otherwise).
TEST(CliReliability, FullTmpfsIsDiskFullAndTraceStaysReadable) {
  const std::string mnt = test::temp_dir("cli-rel") + "/tmpfs";
  fs::create_directories(mnt);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") != 0) GTEST_SKIP() << "cannot mount a tmpfs: " << strerror(errno);
  const std::string out = mnt + "/t.h5";
  const Proc p = run({"trace", test::demo_model(), "--prompts", many_prompts(), "--max-new-tokens", "30",
                      "--ignore-eos", "--threads", "1", "-o", out});
  expect_one_error_line(p, "trace", "disk full");
  expect_partial_trace_readable(out);
  // A read-only file system: the error names the path, nothing is written.
  ASSERT_EQ(mount("tmpfs", mnt.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=1m"), 0);
  const Proc ro = run({"trace", test::demo_model(), "--prompt-ids", "1,2", "-o", mnt + "/ro.h5"});
  expect_one_error_line(ro, "trace", mnt + "/ro.h5");
  umount(mnt.c_str());
}

TEST(CliReliability, UnwritableOutputPathIsOneLineError) {
  const std::string dir = test::temp_dir("cli-rel");
  // A directory that does not exist, and a path below a regular file: both fail for root too.
  for (const std::string out : {dir + "/no/such/dir/t.h5", test::model_fixture("mixtral") + "/config.json/t.h5"}) {
    const Proc p = run({"trace", test::model_fixture("mixtral"), "--prompt-ids", "1,2", "-o", out});
    expect_one_error_line(p, "trace", out);
    EXPECT_FALSE(fs::exists(out));
  }
  if (geteuid() != 0) {  // permissions only stop non-root users
    const std::string ro = dir + "/ro";
    fs::create_directories(ro);
    chmod(ro.c_str(), 0555);
    expect_one_error_line(run({"trace", test::model_fixture("mixtral"), "--prompt-ids", "1,2", "-o", ro + "/t.h5"}),
                          "trace", ro + "/t.h5");
  }
}
