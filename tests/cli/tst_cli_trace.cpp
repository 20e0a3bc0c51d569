// `moescope trace` and `moescope export` run as processes on the demo checkpoint. The trace's contents
// are checked against the Hugging Face reference (tests/fixtures/demo/reference.safetensors: router
// logits, expert sets, next-token logits, greedy continuation), the CSV export against the trace, a run
// killed with SIGKILL must leave a readable prefix, and bad flags give one-line errors.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "probes/trace/trace_reader.h"
#include "tests/support/fixtures.h"
#include "tests/support/reference.h"

using namespace moescope;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct ProcResult {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ProcResult run(const std::string& args) {
  const std::string err_file = test::temp_dir("cli-trace") + "/stderr";
  const std::string cmd = "'" + test::moescope_binary() + "' " + args + " 2>'" + err_file + "'";
  ProcResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = slurp(err_file);
  return r;
}

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

std::string q(const std::string& s) { return "'" + s + "'"; }

// A small RFC 4180 reader (quoted fields, doubled quotes, newlines inside quotes).
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\n') {
      row.push_back(field);
      field.clear();
      rows.push_back(row);
      row.clear();
    } else {
      field += c;
    }
  }
  return rows;
}

}  // namespace

TEST(CliTrace, MatchesTransformersReference) {
  const test::Reference ref(test::demo_reference());
  const std::string dir = test::temp_dir("cli-trace");
  const std::string out = dir + "/python.h5";
  const auto ids = ref.ids("python.input_ids");
  const auto greedy = ref.ids("python.greedy.ids");
  const int P = int(ids.size()), G = int(greedy.size()), E = 16, V = 4096;
  const ProcResult r = run("trace " + q(test::demo_model()) + " --prompt-ids " + join_ids(ids) + " --max-new-tokens " +
                           std::to_string(G) + " --greedy --ignore-eos --record logits -o " + q(out));
  ASSERT_EQ(r.code, 0) << r.err;
  const json summary = json::parse(r.out);
  EXPECT_EQ(summary["runs"][0]["prompt_tokens"], P);
  EXPECT_EQ(summary["runs"][0]["generated_tokens"], G);

  const std::vector<RunData> runs = read_trace(out);
  ASSERT_EQ(runs.size(), 1u);
  const RunData& t = runs[0];
  EXPECT_TRUE(t.complete);
  EXPECT_EQ(t.family, "mixtral");
  EXPECT_EQ(t.strategy, "native");
  EXPECT_EQ(t.model, test::demo_model());
  EXPECT_NE(t.model_config.find("\"num_local_experts\": 16"), std::string::npos);
  EXPECT_EQ(t.tokenizer_sha256.size(), 64u);
  ASSERT_EQ(t.num_tokens(), P + G);
  ASSERT_EQ(t.num_moe_layers(), 6);
  ASSERT_EQ(t.num_experts, E);
  ASSERT_EQ(t.k_max, 2);
  EXPECT_EQ(t.moe_layers, (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
  for (int p = 0; p < P; ++p) {
    EXPECT_EQ(t.token_ids[size_t(p)], ids[size_t(p)]);
    EXPECT_EQ(t.is_prompt[size_t(p)], 1);
  }
  for (int g = 0; g < G; ++g) {
    EXPECT_EQ(t.token_ids[size_t(P + g)], greedy[size_t(g)]) << "generated token " << g;
    EXPECT_EQ(t.is_prompt[size_t(P + g)], 0);
  }
  // Router logits and expert sets of the prompt positions, per layer, against transformers.
  for (int l = 0; l < 6; ++l) {
    const auto rl = ref.floats("python.router." + std::to_string(l) + ".logits");
    const auto re = ref.ints("python.router." + std::to_string(l) + ".experts");
    double worst = 0;
    for (int p = 0; p < P; ++p) {
      for (int e = 0; e < E; ++e)
        worst = std::max(worst, double(std::fabs(t.logits_at(p, l)[e] - rl[size_t(p) * E + e])));
      const std::set<int64_t> got(t.experts_at(p, l), t.experts_at(p, l) + 2);
      const std::set<int64_t> want(re.begin() + p * 2, re.begin() + p * 2 + 2);
      EXPECT_EQ(got, want) << "layer " << l << " position " << p;
      // Mixtral: weights are the softmax over the two selected logits, in rank order
      const float a = t.logits_at(p, l)[t.experts_at(p, l)[0]], b = t.logits_at(p, l)[t.experts_at(p, l)[1]];
      EXPECT_GE(a, b);
      EXPECT_NEAR(t.weights_at(p, l)[0], 1.0 / (1.0 + std::exp(double(b - a))), 1e-5);
      EXPECT_FALSE(t.dropped_at(p, l));
    }
    EXPECT_LE(worst, 1e-3) << "router logits, layer " << l;
  }
  // Next-token logits of the prompt positions; greedy: each row's argmax is the next token.
  ASSERT_EQ(t.vocab_size, V);
  const auto logits = ref.floats("python.logits");
  double worst = 0;
  for (size_t i = 0; i < size_t(P) * V; ++i) worst = std::max(worst, double(std::fabs(t.next_logits[i] - logits[i])));
  EXPECT_LE(worst, 1e-3);
  for (int p = 0; p + 1 < t.num_tokens(); ++p) {
    const float* row = t.next_logits.data() + size_t(p) * V;
    if (p + 1 >= P) EXPECT_EQ(std::max_element(row, row + V) - row, t.token_ids[size_t(p + 1)]) << p;
  }
  // One prefill step of P tokens, then one step per generated token (the last sampled token is the
  // run's next_token, not run through the model).
  ASSERT_EQ(t.num_steps(), G + 1);
  EXPECT_EQ(t.step_tokens[0], P);
  EXPECT_EQ(t.step_prefill[0], 1);
  for (int s = 1; s < t.num_steps(); ++s) {
    EXPECT_EQ(t.step_tokens[size_t(s)], 1);
    EXPECT_EQ(t.step_first_position[size_t(s)], P + s - 1);
    EXPECT_GT(t.step_ns[size_t(s)], 0);
  }
}

TEST(CliTrace, PromptsFileAndExport) {
  const std::string dir = test::temp_dir("cli-trace");
  const std::string prompts = dir + "/p.jsonl";
  std::ofstream(prompts) << "{\"domain\": \"python\", \"text\": \"def f(x):\\n    return x\"}\n\n"
                         << "{\"label\": \"prose\", \"text\": \"The cat sat, quietly.\"}\n";
  const std::string out = dir + "/two.h5";
  ProcResult r = run("trace " + q(test::demo_model()) + " --prompts " + q(prompts) +
                     " --max-new-tokens 5 --ignore-eos --temperature 0.8 --top-p 0.9 --seed 7 -o " + q(out));
  ASSERT_EQ(r.code, 0) << r.err;
  TraceReader reader(out);
  ASSERT_EQ(reader.info().runs, (std::vector<std::string>{"0", "1"}));
  const RunData a = reader.read_run("0"), b = reader.read_run("1");
  EXPECT_EQ(a.label, "python");
  EXPECT_EQ(b.label, "prose");
  EXPECT_EQ(a.prompt, "def f(x):\n    return x");
  EXPECT_EQ(a.extra_attrs.at("sampling"), "sample");
  EXPECT_EQ(a.extra_attrs.at("seed"), "7");
  EXPECT_NEAR(a.extra_num_attrs.at("temperature"), 0.8, 1e-6);
  // The token texts, concatenated, spell the prompt (the demo tokenizer adds no special tokens).
  std::string text;
  for (int p = 0; p < b.num_tokens(); ++p)
    if (b.is_prompt[size_t(p)]) text += b.token_text[size_t(p)];
  EXPECT_EQ(text, "The cat sat, quietly.");

  const std::string csv = dir + "/csv";
  r = run("export " + q(out) + " --csv " + q(csv) + " --router-logits");
  ASSERT_EQ(r.code, 0) << r.err;
  // routing.csv: one row per selected expert, in trace order
  std::ifstream in(csv + "/routing.csv");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "run,position,layer,moe_layer,rank,expert,weight,dropped");
  size_t rows = 0;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  for (const RunData* d : {&a, &b})
    for (int p = 0; p < d->num_tokens(); ++p)
      for (int l = 0; l < d->num_moe_layers(); ++l)
        for (int j = 0; j < d->k_max; ++j) {
          ASSERT_LT(rows, lines.size());
          std::stringstream want;
          want << d->name << ',' << p << ',' << d->moe_layers[size_t(l)] << ',' << l << ',' << j << ','
               << d->experts_at(p, l)[j] << ',';
          EXPECT_EQ(lines[rows].substr(0, want.str().size()), want.str());
          const double w = std::stod(lines[rows].substr(want.str().size()));
          EXPECT_FLOAT_EQ(float(w), d->weights_at(p, l)[j]);
          ++rows;
        }
  EXPECT_EQ(rows, lines.size());
  // tokens.csv: RFC 4180 quoting keeps texts with commas, quotes and newlines intact
  const auto table = parse_csv(slurp(csv + "/tokens.csv"));
  ASSERT_EQ(table.size(), 1 + size_t(a.num_tokens() + b.num_tokens()));
  EXPECT_EQ(table[0], (std::vector<std::string>{"run", "position", "token_id", "text", "is_prompt"}));
  size_t row = 1;
  for (const RunData* d : {&a, &b})
    for (int p = 0; p < d->num_tokens(); ++p, ++row) {
      ASSERT_EQ(table[row].size(), 5u);
      EXPECT_EQ(table[row][0], d->name);
      EXPECT_EQ(table[row][2], std::to_string(d->token_ids[size_t(p)]));
      EXPECT_EQ(table[row][3], d->token_text[size_t(p)]);
      EXPECT_EQ(table[row][4], d->is_prompt[size_t(p)] ? "1" : "0");
    }
  size_t n_router = 0;
  std::ifstream rl(csv + "/router_logits.csv");
  while (std::getline(rl, line)) ++n_router;
  EXPECT_EQ(n_router, 1 + size_t(a.num_tokens() + b.num_tokens()) * 6 * 16);
  size_t n_steps = 0;
  std::ifstream st(csv + "/steps.csv");
  while (std::getline(st, line)) ++n_steps;
  EXPECT_EQ(n_steps, 1 + size_t(a.num_steps() + b.num_steps()));
  EXPECT_TRUE(fs::exists(csv + "/runs.csv"));
  EXPECT_FALSE(fs::exists(csv + "/none.csv"));

  // --run NAME: one run only
  const std::string csv1 = dir + "/csv1";
  r = run("export " + q(out) + " --csv " + q(csv1) + " --run 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["runs"], 1);
  const auto t1 = parse_csv(slurp(csv1 + "/tokens.csv"));
  ASSERT_EQ(t1.size(), 1 + size_t(b.num_tokens()));
  for (size_t i = 1; i < t1.size(); ++i) EXPECT_EQ(t1[i][0], "1");
  EXPECT_FALSE(fs::exists(csv1 + "/router_logits.csv"));
  r = run("export " + q(out) + " --csv " + q(csv1) + " --run 7");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no run named '7'"), std::string::npos) << r.err;
}

// A long trace killed with SIGKILL mid-run: the file opens and every row read is a valid routing row.
TEST(CliTrace, KilledRunLeavesReadablePrefix) {
  const std::string dir = test::temp_dir("cli-trace");
  const std::string prompts = dir + "/many.jsonl";
  {
    std::ofstream p(prompts);
    for (int i = 0; i < 40; ++i) p << "{\"ids\": [300, 301, " << 10 + i << "], \"domain\": \"prose\"}\n";
  }
  const std::string out = dir + "/killed.h5";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string bin = test::moescope_binary(), model = test::demo_model();
    freopen("/dev/null", "w", stdout);
    execl(bin.c_str(), bin.c_str(), "trace", model.c_str(), "--prompts", prompts.c_str(), "--max-new-tokens", "900",
          "--ignore-eos", "--threads", "1", "-o", out.c_str(), (char*)nullptr);
    _exit(127);
  }
  // Wait until a good part of the first run reached the disk, then kill.
  for (int i = 0; i < 600; ++i) {
    std::error_code ec;
    if (fs::exists(out, ec) && fs::file_size(out, ec) > 400 * 1024) break;
    usleep(50 * 1000);
  }
  usleep(200 * 1000);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the trace finished before it could be killed";

  TraceReader reader(out);
  ASSERT_GE(reader.info().runs.size(), 1u);
  const RunData last = reader.read_run(reader.info().runs.back());
  EXPECT_FALSE(last.complete);
  std::vector<RunData> runs = reader.read_all();
  int64_t rows = 0;
  for (const RunData& r : runs) {
    ASSERT_EQ(r.num_experts, 16);
    ASSERT_EQ(r.k_max, 2);
    int64_t step_tokens = 0;
    for (int s = 0; s < r.num_steps(); ++s) step_tokens += r.step_tokens[size_t(s)];
    EXPECT_EQ(step_tokens, r.num_tokens()) << "run " << r.name << ": steps and rows flushed together";
    for (int p = 0; p < r.num_tokens(); ++p) {
      ASSERT_GE(r.token_ids[size_t(p)], 0);
      for (int l = 0; l < r.num_moe_layers(); ++l) {
        // the two experts are the two largest router logits
        const float* lg = r.logits_at(p, l);
        const int32_t* ex = r.experts_at(p, l);
        ASSERT_TRUE(ex[0] >= 0 && ex[0] < 16 && ex[1] >= 0 && ex[1] < 16 && ex[0] != ex[1]) << p;
        int above = 0;
        for (int e = 0; e < 16; ++e) above += lg[e] > lg[ex[1]];
        ASSERT_LE(above, 1) << "run " << r.name << " position " << p << " layer " << l;
      }
    }
    rows += r.num_tokens();
  }
  EXPECT_GT(rows, 50);
}

TEST(CliTrace, BadFlagsGiveOneLineErrors) {
  const std::string dir = test::temp_dir("cli-trace");
  const std::string m = q(test::demo_model());
  const std::string o = " -o " + q(dir + "/x.h5");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"trace " + m + " --prompt hi", "missing -o"},
      {"trace " + m + " --prompt hi --bogus" + o, "unknown option '--bogus'"},
      {"trace " + m + " --prompt hi --max-new-tokens -5" + o, "--max-new-tokens"},
      {"trace " + m + " --prompt hi --max-new-tokens lots" + o, "--max-new-tokens"},
      {"trace " + m + " --prompt hi --temperature 0" + o, "--temperature"},
      {"trace " + m + " --prompt hi --top-p 1.5" + o, "--top-p"},
      {"trace " + m + " --prompt hi --record everything" + o, "--record"},
      {"trace " + m + " --prompt hi --prompt-ids 1,2" + o, "exactly one of"},
      {"trace " + m + o, "exactly one of"},
      {"trace " + m + " --prompt-ids 1,x,3" + o, "--prompt-ids"},
      {"trace " + m + " --prompt hi --greedy --seed 3" + o, "--greedy"},
      {"trace " + m + " --prompt hi --backend tpu" + o, "--backend"},
      {"trace " + m + " --prompts " + q(dir + "/none.jsonl") + o, "none.jsonl"},
      {"trace " + q(dir + "/no-model") + " --prompt hi" + o, "no-model"},
      {"trace " + m + " --prompt-ids 999999" + o, "999999"},
      {"trace " + m + " --prompt hi -o " + q(dir + "/no/such/dir/x.h5"), "x.h5"},
      {"export", "missing TRACE.h5"},
      {"export " + q(dir + "/x.h5"), "missing --csv"},
      {"export " + q(dir + "/missing.h5") + " --csv " + q(dir + "/c"), "missing.h5: no such file"},
      {"export " + q(test::demo_model() + "/config.json") + " --csv " + q(dir + "/c"), "not an HDF5 file"},
      {"export a.h5 --csv d --frobnicate", "unknown option"},
  };
  std::ofstream(dir + "/bad.jsonl") << "{\"text\": \"ok\"}\nnot json\n";
  auto all = cases;
  all.push_back({"trace " + m + " --prompts " + q(dir + "/bad.jsonl") + o, "bad.jsonl:2: not a JSON object"});
  for (const auto& [args, needle] : all) {
    const ProcResult r = run(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << args;
  }
}
