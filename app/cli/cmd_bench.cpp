// `moescope bench MODEL|--synthetic NAME|--synthetic config.json [--backend cpu|cuda] [--prompt-len N]
//   [--gen N] [--probes on|off|both] [--threads T] [--reps R] [--json]`
// Prefill and decode throughput, probe overhead (probes off and on interleaved in one process, on the
// same Session), peak memory and achieved weight bandwidth next to a STREAM-style copy measured in a
// child process (so its buffers do not count in our peak RSS). Method: docs/performance.md.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/cli/cli.h"
#include "app/cli/cli_args.h"
#include "engine/checkpoint/weight_store.h"
#include "engine/cpu/backend.h"
#include "engine/cpu/kernels.h"
#include "engine/model/model.h"
#include "engine/model/synthetic.h"
#include "engine/session/session.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"
#include "engine/util/thread_pool.h"
#include "probes/metrics/load.h"
#include "probes/recorder/run_recorder.h"

namespace moescope::cli {

namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// Bytes of weights one decoded token reads, each tensor in its stored form (MXFP4 experts at 4.25 bits): every
// bound tensor once (a tied lm_head is the embedding), less the routed experts a token does not use (all but k of
// E per MoE layer, at their mean size) and less the embedding table but one row when it is not the lm_head.
double decode_bytes_per_token(const Model& model) {
  const ModelWeights& w = model.weights();
  const ModelConfig& c = model.config();
  std::set<const std::byte*> seen;
  double sum = 0;
  for_each_weight(w, [&](const TensorRef& t) {
    if (t.valid() && seen.insert(t.data).second) sum += double(t.nbytes);
  });
  if (w.embed.valid() && w.embed.data != w.lm_head.data && w.embed.rows() > 0)
    sum -= double(w.embed.nbytes) * (1.0 - 1.0 / double(w.embed.rows()));
  for (const LayerWeights& L : w.layers) {
    if (!L.is_moe || L.moe.experts.empty()) continue;
    double experts = 0;
    for (const FfnWeights& e : L.moe.experts)
      for (const TensorRef* t : {&e.gate, &e.up, &e.down, &e.gate_bias, &e.up_bias, &e.down_bias})
        if (t->valid()) experts += double(t->nbytes);
    const double E = double(L.moe.experts.size());
    sum -= experts * (E - std::min<double>(E, c.num_experts_per_tok)) / E;
  }
  return sum;
}

const char* kUsage =
    "usage: moescope bench MODEL|--synthetic NAME|--synthetic path/config.json [--backend cpu|cuda]\n"
    "         [--prompt-len N] [--gen N] [--probes on|off|both] [--threads T] [--reps R] [--json]\n"
    "         [--prompt-ids 1,2,3] [--layers N] [--experts N] [--vocab N] [--max-weights-gib G]\n"
    "         [--synthetic-dir DIR [--write-only]] [--no-stream] [--weights auto|mapped|resident]\n"
    "         [--expert-format mxfp4|bf16] [--weight-format bf16|fp8]\n"
    "  synthetic names: olmoe-1b-7b, qwen1.5-moe-a2.7b, qwen3-30b-a3b, mixtral-8x7b, deepseek-v2-lite, deepseek-v2,\n"
    "                   deepseek-v3, glm-4.5-air, ernie-4.5-21b-a3b, granite-3.1-1b-a400m,\n"
    "                   gpt-oss-20b\n"
    "  (scaled down to --max-weights-gib, default 4, by fewer layers; what was scaled is reported;\n"
    "  GPT-OSS experts are written as released, MXFP4, unless --expert-format bf16; --weight-format fp8 writes\n"
    "  attention and expert matrices as block-scaled FP8, as Qwen3-*-FP8 or DeepSeek-V3 are released)\n";

struct Options {
  std::string model;
  std::string synthetic;
  SyntheticOptions synth;
  std::string synthetic_dir;
  bool expert_format_given = false;
  bool write_only = false;
  std::string backend = "cpu";
  int prompt_len = 128;
  int gen = 128;
  std::string probes = "both";
  int threads = 0;
  int reps = 3;
  bool json_out = false;
  bool stream = true;
  WeightResidency weights = WeightResidency::Auto;
  std::vector<int32_t> prompt_ids;
};

Options parse(const Args& args) {
  Options o;
  auto value = [&](size_t& i) -> const std::string& {
    if (i + 1 >= args.size()) throw UsageError(args[i] + " needs a value");
    return args[++i];
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--synthetic") {
      o.synthetic = value(i);
    } else if (a == "--backend") {
      o.backend = value(i);
    } else if (a == "--prompt-len") {
      o.prompt_len = int(parse_int(a, value(i), 1, 1 << 20));
    } else if (a == "--gen") {
      o.gen = int(parse_int(a, value(i), 1, 1 << 20));
    } else if (a == "--probes") {
      o.probes = value(i);
      if (o.probes != "on" && o.probes != "off" && o.probes != "both")
        throw UsageError("--probes: expected on, off or both, got '" + o.probes + "'");
    } else if (a == "--threads") {
      o.threads = int(parse_int(a, value(i), 0, 4096));
    } else if (a == "--reps") {
      o.reps = int(parse_int(a, value(i), 1, 1000));
    } else if (a == "--json") {
      o.json_out = true;
    } else if (a == "--no-stream") {
      o.stream = false;
    } else if (a == "--weights") {
      if (!parse_residency(value(i), o.weights))
        throw UsageError("--weights must be auto, mapped or resident, not '" + args[i] + "'");
    } else if (a == "--layers") {
      o.synth.layers = int(parse_int(a, value(i), 1, 10000));
    } else if (a == "--experts") {
      o.synth.experts = int(parse_int(a, value(i), 1, 1 << 16));
    } else if (a == "--vocab") {
      o.synth.vocab = int(parse_int(a, value(i), 2, 1 << 26));
    } else if (a == "--max-weights-gib") {
      const std::string& v = value(i);
      char* end = nullptr;
      const double g = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || !(g > 0)) throw UsageError("--max-weights-gib: expected a positive number, got '" + v + "'");
      o.synth.max_weight_bytes = g * 1024.0 * 1024.0 * 1024.0;
    } else if (a == "--expert-format") {
      const std::string& v = value(i);
      if (v != "mxfp4" && v != "bf16") throw UsageError("--expert-format must be mxfp4 or bf16, not '" + v + "'");
      o.synth.gpt_oss_mxfp4 = v == "mxfp4";
      o.expert_format_given = true;
    } else if (a == "--weight-format") {
      const std::string& v = value(i);
      if (v != "fp8" && v != "bf16") throw UsageError("--weight-format must be bf16 or fp8, not '" + v + "'");
      o.synth.fp8 = v == "fp8";
      o.expert_format_given = true;
    } else if (a == "--synthetic-dir") {
      o.synthetic_dir = value(i);
    } else if (a == "--write-only") {
      o.write_only = true;
    } else if (a == "--prompt-ids") {
      const std::string& v = value(i);
      std::stringstream ss(v);
      std::string part;
      while (std::getline(ss, part, ',')) o.prompt_ids.push_back(int32_t(parse_int("--prompt-ids", part, 0, 0x7fffffff)));
      if (o.prompt_ids.empty()) throw UsageError("--prompt-ids: no ids");
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError("unknown option '" + a + "'");
    } else if (o.model.empty()) {
      o.model = a;
    } else {
      throw UsageError("unexpected argument '" + a + "'");
    }
  }
  if (o.model.empty() == o.synthetic.empty()) throw UsageError("give exactly one of MODEL and --synthetic NAME");
  if (o.write_only && o.synthetic_dir.empty()) throw UsageError("--write-only needs --synthetic-dir DIR");
  if (o.synthetic.empty() &&
      (o.synth.layers || o.synth.experts || o.synth.vocab || !o.synthetic_dir.empty() || o.expert_format_given))
    throw UsageError("--layers/--experts/--vocab/--synthetic-dir/--expert-format/--weight-format only apply to --synthetic");
  if (o.backend != "cpu" && o.backend != "cuda") throw UsageError("--backend: expected cpu or cuda, got '" + o.backend + "'");
  if (!o.prompt_ids.empty()) o.prompt_len = int(o.prompt_ids.size());
  return o;
}

// ---- memory and load -----------------------------------------------------------------------------

int64_t status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(in, line))
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':') return std::atoll(line.c_str() + n + 1);
  return -1;
}

int64_t peak_rss_bytes() {
  const int64_t hwm = status_kib("VmHWM");
  if (hwm >= 0) return hwm * 1024;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return int64_t(ru.ru_maxrss) * 1024;
}

double loadavg_1m() {
  std::ifstream in("/proc/loadavg");
  double l = -1;
  in >> l;
  return l;
}

// ---- STREAM-style bandwidth, in a child process ------------------------------------------------

struct Bandwidth {
  double copy_gbs = 0;  // STREAM convention: (bytes read + bytes written) / s, best of several passes
  double read_gbs = 0;  // sum over one array: bytes read / s
  int64_t array_bytes = 0;
};

Bandwidth measure_in_child(int threads) {
  Bandwidth bw;
  int fds[2];
  if (pipe(fds) != 0) return bw;
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return bw;
  }
  if (pid == 0) {
    close(fds[0]);
    Bandwidth r;
    const size_t n = size_t(64) << 20;  // 64 Mi floats = 256 MiB per array, 8x the last-level cache
    r.array_bytes = int64_t(n * sizeof(float));
    std::unique_ptr<float[]> a(new float[n]), b(new float[n]);
    ThreadPool pool(threads);
    pool.parallel_for(int64_t(n), 1 << 16, [&](int64_t s, int64_t e, int) {
      for (int64_t i = s; i < e; ++i) a[size_t(i)] = 1.0f, b[size_t(i)] = 0.0f;
    });
    double best_copy = 1e30, best_read = 1e30;
    std::vector<double> partial(size_t(pool.size()), 0.0);
    for (int rep = 0; rep < 6; ++rep) {
      auto t0 = Clock::now();
      pool.parallel_for(int64_t(n), 1 << 16, [&](int64_t s, int64_t e, int) {
        std::memcpy(b.get() + s, a.get() + s, size_t(e - s) * sizeof(float));
      });
      auto t1 = Clock::now();
      // Read-only: vector adds (so the adds are not the limit) with a software prefetch one 4 KiB page
      // ahead, as the decode kernels stream weights; a plain scalar loop understates the bandwidth by 1/3.
      pool.parallel_for(int64_t(n), 1 << 16, [&](int64_t s, int64_t e, int t) {
        typedef float v4 __attribute__((vector_size(16)));
        v4 acc0 = {}, acc1 = {}, acc2 = {}, acc3 = {};
        const float* p = b.get();
        int64_t i = s;
        for (; i + 16 <= e; i += 16) {
          __builtin_prefetch(p + i + 1024);
          v4 x0, x1, x2, x3;
          std::memcpy(&x0, p + i, 16); std::memcpy(&x1, p + i + 4, 16);
          std::memcpy(&x2, p + i + 8, 16); std::memcpy(&x3, p + i + 12, 16);
          acc0 += x0; acc1 += x1; acc2 += x2; acc3 += x3;
        }
        const v4 sum = acc0 + acc1 + acc2 + acc3;
        float tail = sum[0] + sum[1] + sum[2] + sum[3];
        for (; i < e; ++i) tail += p[i];
        partial[size_t(t)] += tail;
      });
      auto t2 = Clock::now();
      best_copy = std::min(best_copy, std::chrono::duration<double>(t1 - t0).count());
      best_read = std::min(best_read, std::chrono::duration<double>(t2 - t1).count());
    }
    r.copy_gbs = 2.0 * double(r.array_bytes) / best_copy / 1e9;
    r.read_gbs = double(r.array_bytes) / best_read / 1e9 + (partial[0] == -1 ? 1 : 0);  // keeps the sum live
    [[maybe_unused]] auto w = write(fds[1], &r, sizeof r);
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  Bandwidth r;
  if (read(fds[0], &r, sizeof r) == ssize_t(sizeof r)) bw = r;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return bw;
}

// ---- the measured runs ---------------------------------------------------------------------------

// CPU time of the whole process (all threads): on a machine shared with other work, wall time includes
// time spent descheduled, CPU time does not (but includes the pool's brief spinning).
double process_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct RunTimes {
  double prefill_s = 0, decode_s = 0;
  double prefill_cpu_s = 0, decode_cpu_s = 0;
  std::vector<int32_t> ids;  // greedy ids: the token after the prompt, then one per decode step
};

RunTimes run_once(Session& s, const std::vector<int32_t>& prompt, int gen, RunRecorder* recorder, const Model& model) {
  RunTimes r;
  s.set_prompt_ids(prompt);
  if (recorder) {
    RunData meta;
    meta.model = model.directory();
    meta.family = family_name(model.config().family);
    meta.model_config = model.config().config_text;
    recorder->begin(meta, &model.config());
    recorder->reserve(int(prompt.size()) + gen + 1, gen + 1);
    recorder->set_prompt_length(int(prompt.size()));
    s.add_sink(recorder);
  }
  r.ids.reserve(size_t(gen));
  const double c0 = process_cpu_s();
  const auto t0 = Clock::now();
  r.ids.push_back(s.prefill());
  const auto t1 = Clock::now();
  const double c1 = process_cpu_s();
  for (int i = 1; i < gen; ++i) {
    s.step();
    r.ids.push_back(s.pending_token());
  }
  const auto t2 = Clock::now();
  r.prefill_cpu_s = c1 - c0;
  r.decode_cpu_s = process_cpu_s() - c1;
  if (recorder) s.remove_sink(recorder);
  r.prefill_s = std::chrono::duration<double>(t1 - t0).count();
  r.decode_s = std::chrono::duration<double>(t2 - t1).count();
  return r;
}

// How the prompt's tokens spread over the experts in prefill, from a recorded run: per MoE layer the experts
// that got any token, the largest expert batch and the load statistics of docs/metrics.md, and over all
// layers the (token, expert) rows by the size of the batch their expert ran. The batch sizes set the shapes of
// the expert matmuls, and so how fast a prefill can be: a few tokens per expert re-read its weights for little
// work, a crowded expert keeps one thread busy.
json prefill_routing(const RunData& run, int prompt_len) {
  metrics::LoadOptions lo;
  lo.end = prompt_len;  // dropped tokens are left out, as the engine skips them
  struct Bucket {
    const char* name;
    int64_t lo, hi;  // tokens per expert in [lo, hi]
  };
  static const Bucket buckets[] = {{"1-7", 1, 7}, {"8-15", 8, 15}, {"16-31", 16, 31}, {"32-63", 32, 63},
                                   {"64+", 64, INT64_MAX}};
  int64_t rows[std::size(buckets)] = {};
  int64_t total = 0;
  json layers = json::array();
  for (int l = 0; l < run.num_moe_layers(); ++l) {
    const metrics::LoadStats st = metrics::load_stats(metrics::expert_counts(run, l, lo));
    int active = 0;
    int64_t largest = 0;
    for (int64_t c : st.counts) {
      if (c <= 0) continue;
      ++active;
      largest = std::max(largest, c);
      for (size_t b = 0; b < std::size(buckets); ++b)
        if (c >= buckets[b].lo && c <= buckets[b].hi) rows[b] += c;
    }
    total += st.total;
    layers.push_back({{"moe_layer", l},
                      {"active_experts", active},
                      {"rows", st.total},
                      {"max_tokens_per_expert", largest},
                      {"mean_tokens_per_active_expert", active ? double(st.total) / active : 0.0},
                      {"max_over_mean", st.max_over_mean},
                      {"entropy_normalised", st.entropy_normalised}});
  }
  json by_batch = json::object();
  for (size_t b = 0; b < std::size(buckets); ++b)
    by_batch[buckets[b].name] = total ? double(rows[b]) / double(total) : 0.0;
  return {{"tokens", prompt_len}, {"rows", total}, {"row_fraction_by_tokens_per_expert", by_batch}, {"layers", layers}};
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

json phase_summary(const std::vector<RunTimes>& runs, int prompt_len, int gen) {
  std::vector<double> pre, dec, pre_cpu, dec_cpu;
  json per_run = json::array();
  for (const auto& r : runs) {
    pre.push_back(r.prefill_s);
    dec.push_back(r.decode_s);
    pre_cpu.push_back(r.prefill_cpu_s);
    dec_cpu.push_back(r.decode_cpu_s);
    per_run.push_back({{"prefill_s", r.prefill_s}, {"decode_s", r.decode_s}, {"prefill_cpu_s", r.prefill_cpu_s},
                       {"decode_cpu_s", r.decode_cpu_s}});
  }
  const double p = median(pre), d = median(dec);
  const int steps = std::max(1, gen - 1);
  json j;
  j["prefill_s"] = p;
  j["prefill_tok_s"] = p > 0 ? prompt_len / p : 0.0;
  j["prefill_ms_per_token"] = 1000.0 * p / prompt_len;
  j["decode_s"] = d;
  j["decode_tok_s"] = gen > 1 && d > 0 ? steps / d : 0.0;
  j["decode_ms_per_token"] = 1000.0 * d / steps;
  j["best_prefill_tok_s"] = prompt_len / *std::min_element(pre.begin(), pre.end());
  j["best_decode_tok_s"] = gen > 1 ? steps / *std::min_element(dec.begin(), dec.end()) : 0.0;
  j["prefill_cpu_s"] = median(pre_cpu);
  j["decode_cpu_s"] = median(dec_cpu);
  j["runs"] = per_run;
  return j;
}

// Prompt for models with a tokenizer: the demo prompt suite's texts, concatenated until N tokens.
std::vector<int32_t> make_prompt(const Session& s, int n) {
  std::vector<int32_t> ids;
  if (const Tokenizer* tok = s.tokenizer()) {
    std::ifstream in(default_datasets_dir() + "/prompts/demo-domains.jsonl");
    std::string line;
    while (int(ids.size()) < n && std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("text") || !j["text"].is_string()) continue;
      for (int32_t id : tok->encode(j["text"].get<std::string>(), ids.empty())) {
        if (int(ids.size()) >= n) break;
        ids.push_back(id);
      }
    }
  }
  // No tokenizer (synthetic checkpoints), or too little text: deterministic pseudo-random ids.
  uint64_t x = 0x2545F4914F6CDD1Dull;
  const int vocab = s.model().config().vocab_size;
  while (int(ids.size()) < n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ids.push_back(int32_t(x % uint64_t(vocab)));
  }
  return ids;
}

// Touch every page of the weights the backend reads once, so the first measured run does not pay page faults.
// The bound tensors, not the files: stored tensors that were converted at load (GPT-OSS experts) have had their
// pages released and must not come back.
void prefault(const Model& m) {
  volatile uint8_t sink = 0;
  for_each_weight(m.weights(), [&](const TensorRef& t) {
    if (!t.valid()) return;
    for (size_t off = 0; off < t.nbytes; off += 4096) sink = sink + uint8_t(t.data[off]);
  });
  (void)sink;
}

uint64_t kv_bytes_per_position(const ModelConfig& c) {
  uint64_t per_layer;
  if (c.attention == AttentionKind::MLA)
    per_layer = uint64_t(c.num_heads) * (c.qk_nope_head_dim + c.qk_rope_head_dim) + uint64_t(c.num_heads) * c.v_head_dim;
  else
    per_layer = 2ull * c.num_kv_heads * c.head_dim;
  return per_layer * sizeof(float) * uint64_t(c.num_layers);
}

}  // namespace

int cmd_bench(const Args& args) {
  for (const auto& a : args)
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  Options o;
  try {
    o = parse(args);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "moescope bench: error: %s\n%s", e.what(), kUsage);
    return 2;
  }
  const double load_start = loadavg_1m();
  json out;

  // Synthetic checkpoint: written to disk and loaded through the ordinary loader.
  std::string model_dir = o.model;
  struct Cleanup {  // removes the temporary synthetic checkpoint however we leave
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
  } cleanup;
  std::string temp_dir;
  SyntheticPlan plan;
  if (!o.synthetic.empty()) {
    plan = plan_synthetic(o.synthetic, o.synth);
    if (!o.synthetic_dir.empty()) {
      model_dir = o.synthetic_dir;
    } else {
      const char* tmp = std::getenv("TMPDIR");
      const std::string t = std::string(tmp && *tmp ? tmp : "/tmp") + "/moescope-bench-XXXXXX";
      std::vector<char> buf(t.begin(), t.end());
      buf.push_back('\0');
      if (!mkdtemp(buf.data())) throw Error(t + ": cannot create a temporary directory for the synthetic model");
      temp_dir = model_dir = buf.data();
      cleanup.dir = temp_dir;
    }
    const auto tw = Clock::now();
    write_synthetic_checkpoint(plan, model_dir);
    json scaled = json::array();
    for (const auto& s : plan.scaled) scaled.push_back({{"key", s.key}, {"from", s.from}, {"to", s.to}});
    out["synthetic"] = {{"source", plan.source}, {"dir", temp_dir.empty() ? model_dir : ""},
                        {"weight_bytes", plan.weight_bytes}, {"scaled", scaled},
                        {"weight_format", plan.fp8 ? "fp8" : plan.mxfp4_experts ? "bf16, experts mxfp4" : "bf16"},
                        {"write_s", std::chrono::duration<double>(Clock::now() - tw).count()}};
    if (o.write_only) {
      std::printf("%s\n", out.dump(2).c_str());
      return 0;
    }
  }

  // Bandwidth reference first, in a child, before this process has any threads or large buffers.
  Bandwidth bw;
  if (o.stream) bw = measure_in_child(o.threads);

  const int64_t rss_before_load = status_kib("VmRSS") * 1024;  // the executable and its libraries
  std::shared_ptr<const Model> model = Model::load(model_dir, nullptr, o.weights);
  std::shared_ptr<const Tokenizer> tokenizer;
  if (std::filesystem::exists(model_dir + "/tokenizer.json")) tokenizer = Tokenizer::load(model_dir);
  SessionOptions so;
  so.backend = o.backend;
  so.threads = o.threads;
  so.max_context = o.prompt_len + o.gen + 1;
  Session session(model, tokenizer, so);
  const ModelConfig& c = model->config();
  const int threads = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));

  const std::vector<int32_t> prompt = o.prompt_ids.empty() ? make_prompt(session, o.prompt_len) : o.prompt_ids;
  prefault(*model);

  const bool do_off = o.probes != "on", do_on = o.probes != "off";
  RunRecorder recorder;
  if (tokenizer) recorder.set_decoder([tokenizer](int32_t id) { return tokenizer->display_piece(id); });
  // Warm-up (untimed): caches, scratch growth, recorder vectors.
  {
    const std::vector<int32_t> warm(prompt.begin(), prompt.begin() + std::min<size_t>(prompt.size(), 16));
    if (do_off) run_once(session, warm, std::min(o.gen, 4), nullptr, *model);
    if (do_on) run_once(session, warm, std::min(o.gen, 4), &recorder, *model);
  }
  std::vector<RunTimes> off, on;
  for (int r = 0; r < o.reps; ++r) {
    // Alternate the order so drift in machine load hits both modes alike.
    const bool on_first = (r % 2) == 1;
    for (int pass = 0; pass < 2; ++pass) {
      const bool probes = (pass == 0) == on_first;
      if (probes && do_on) on.push_back(run_once(session, prompt, o.gen, &recorder, *model));
      if (!probes && do_off) off.push_back(run_once(session, prompt, o.gen, nullptr, *model));
    }
  }
  const RunData& recorded = recorder.data();

  // ---- report ----
  const ParamCounts pc = count_parameters(c);
  uint64_t weights_bytes = 0;  // tensor data of the checkpoint (file headers not counted)
  for (const auto& f : model->store().files())
    for (const auto& e : f->entries()) weights_bytes += f->tensor(e).nbytes;
  const double touched_bytes = decode_bytes_per_token(*model);
  const uint64_t kv_pos = kv_bytes_per_position(c);
  const uint64_t kv_used = kv_pos * uint64_t(o.prompt_len + o.gen);
  const int64_t peak = peak_rss_bytes();

  out["model"] = o.synthetic.empty() ? model_dir : "synthetic:" + o.synthetic;
  out["family"] = family_name(c.family);
  out["backend"] = session.backend().name();
  out["threads"] = threads;
  out["simd"] = cpu::simd_enabled();
  out["config"] = {{"layers", c.num_layers}, {"moe_layers", c.num_moe_layers()}, {"hidden_size", c.hidden_size},
                   {"experts", c.num_experts}, {"experts_per_token", c.num_experts_per_tok},
                   {"vocab_size", c.vocab_size}, {"dtypes", model->dtypes()}};
  out["prompt_len"] = int(prompt.size());
  out["gen"] = o.gen;
  out["reps"] = o.reps;
  out["probes"] = o.probes;
  if (do_off) out["probes_off"] = phase_summary(off, int(prompt.size()), o.gen);
  if (do_on) {
    out["probes_on"] = phase_summary(on, int(prompt.size()), o.gen);
    out["probes_on"]["recorded_tokens"] = recorded.num_tokens();
    out["probes_on"]["recorded_moe_layers"] = recorded.num_moe_layers();
    out["probes_on"]["recorded_steps"] = recorded.num_steps();
  }
  bool same_ids = true;
  if (do_off && do_on) {
    std::vector<double> pre, dec, tot, tot_cpu;
    for (size_t i = 0; i < std::min(off.size(), on.size()); ++i) {
      tot_cpu.push_back((on[i].prefill_cpu_s + on[i].decode_cpu_s) / (off[i].prefill_cpu_s + off[i].decode_cpu_s));
      pre.push_back(on[i].prefill_s / off[i].prefill_s);
      dec.push_back(on[i].decode_s / std::max(1e-12, off[i].decode_s));
      tot.push_back((on[i].prefill_s + on[i].decode_s) / (off[i].prefill_s + off[i].decode_s));
      same_ids = same_ids && on[i].ids == off[i].ids;
    }
    // Median of the per-repetition ratios (each pair ran back to back), not a ratio of medians.
    out["probe_overhead"] = {{"prefill_ratio", median(pre)}, {"decode_ratio", median(dec)},
                             {"total_ratio", median(tot)}, {"total_pct", 100.0 * (median(tot) - 1.0)},
                             {"total_cpu_ratio", median(tot_cpu)}, {"total_cpu_pct", 100.0 * (median(tot_cpu) - 1.0)},
                             {"recorded", "routing logits, experts, weights, dropped, token text, step timings"}};
    out["probes_change_output"] = !same_ids;
  }
  const RunTimes& first = do_off ? off.front() : on.front();
  out["prompt_ids"] = prompt;
  out["greedy_ids"] = first.ids;

  const json& ref = do_off ? out["probes_off"] : out["probes_on"];
  const double dec_s_per_tok = ref["decode_ms_per_token"].get<double>() / 1000.0;
  const double kv_read = double(kv_pos) * (o.prompt_len + o.gen / 2.0);  // average position while decoding
  json bwj;
  bwj["active_params_per_token"] = pc.active;
  bwj["weight_bytes_per_decoded_token"] = touched_bytes;
  bwj["kv_bytes_read_per_decoded_token"] = kv_read;
  bwj["achieved_gbs"] = dec_s_per_tok > 0 && o.gen > 1 ? touched_bytes / dec_s_per_tok / 1e9 : 0.0;
  bwj["achieved_gbs_with_kv"] = dec_s_per_tok > 0 && o.gen > 1 ? (touched_bytes + kv_read) / dec_s_per_tok / 1e9 : 0.0;
  if (o.stream) {
    bwj["copy_gbs"] = bw.copy_gbs;
    bwj["read_gbs"] = bw.read_gbs;
    bwj["fraction_of_copy"] = bw.copy_gbs > 0 ? bwj["achieved_gbs"].get<double>() / bw.copy_gbs : 0.0;
    bwj["stream_array_bytes"] = bw.array_bytes;
  }
  out["bandwidth"] = bwj;
  out["memory"] = {{"weights_residency", residency_name(model->store().residency())},
                   {"weights_residency_requested", residency_name(o.weights)},
                   {"peak_rss_bytes", peak},
                   {"weights_bytes", weights_bytes},
                   {"kv_cache_bytes", kv_used},
                   {"kv_cache_bytes_per_token", kv_pos},
                   {"peak_rss_over_weights_plus_kv", double(peak) / double(weights_bytes + kv_used)},
                   {"rss_before_load_bytes", rss_before_load},
                   // What loading and running the model added: the executable and its libraries (shared
                   // page-cache pages, ~10 MB) are left out, so a 17 MB model is judged on its own memory.
                   {"model_rss_bytes", peak - rss_before_load},
                   {"model_rss_over_weights_plus_kv", double(peak - rss_before_load) / double(weights_bytes + kv_used)}};
  // Untimed, after the measurements (and after reading the peak RSS): one recorded prefill when the
  // timed runs did not record.
  if (c.num_moe_layers() > 0) {
    if (!do_on) run_once(session, prompt, 1, &recorder, *model);
    out["prefill_routing"] = prefill_routing(recorder.data(), int(prompt.size()));
  }
  out["machine"] = {{"hardware_threads", std::thread::hardware_concurrency()},
                    {"loadavg_1m_start", load_start},
                    {"loadavg_1m_end", loadavg_1m()}};

  if (o.json_out) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("model %s (%s), %d threads, prompt %d, gen %d, %d reps\n", out["model"].get<std::string>().c_str(),
                family_name(c.family), threads, int(prompt.size()), o.gen, o.reps);
    for (const char* k : {"probes_off", "probes_on"})
      if (out.contains(k))
        std::printf("  %-10s prefill %9.1f tok/s (%7.3f ms/tok)   decode %8.1f tok/s (%7.3f ms/tok)\n", k,
                    out[k]["prefill_tok_s"].get<double>(), out[k]["prefill_ms_per_token"].get<double>(),
                    out[k]["decode_tok_s"].get<double>(), out[k]["decode_ms_per_token"].get<double>());
    if (out.contains("probe_overhead"))
      std::printf("  probe overhead %+.2f%% wall, %+.2f%% CPU time\n", out["probe_overhead"]["total_pct"].get<double>(),
                  out["probe_overhead"]["total_cpu_pct"].get<double>());
    std::printf("  peak RSS %.1f MiB (%.1f MiB above the executable and libraries), weights %.1f MiB, KV %.1f MiB\n",
                peak / 1048576.0, (peak - rss_before_load) / 1048576.0, weights_bytes / 1048576.0, kv_used / 1048576.0);
    std::printf("  decode reads %.1f MiB of weights per token: %.2f GB/s (copy bandwidth %.2f GB/s)\n",
                touched_bytes / 1048576.0, bwj["achieved_gbs"].get<double>(), bw.copy_gbs);
    if (out.contains("prefill_routing")) {
      const json& pr = out["prefill_routing"];
      std::printf("  prefill rows (token, expert) by tokens per expert:");
      for (const auto& [k, v] : pr["row_fraction_by_tokens_per_expert"].items()) std::printf(" %s %.0f%%", k.c_str(), 100.0 * v.get<double>());
      int64_t largest = 0;
      for (const json& l : pr["layers"]) largest = std::max(largest, l["max_tokens_per_expert"].get<int64_t>());
      std::printf("; largest expert batch %lld of %d tokens\n", static_cast<long long>(largest), int(prompt.size()));
    }
  }
  return 0;
}

}  // namespace moescope::cli
