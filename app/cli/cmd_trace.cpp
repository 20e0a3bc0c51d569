// `moescope trace MODEL (--prompt TEXT | --prompt-ids 1,2,3 | --prompts FILE.jsonl) [--max-new-tokens N]
//   [--greedy | --temperature T --top-p P --top-k K --seed S] [--strategy SPEC] [--record logits]
//   [--backend cpu|cuda] [--threads N] [--ignore-eos] [--no-special-tokens] -o TRACE.h5`
// Runs each prompt (one run per prompt, /runs/0, /runs/1, ...) and streams routing into an HDF5 trace
// (docs/trace-format.md) through TraceWriter, which flushes as steps complete: a killed run leaves a readable
// prefix. Prints a JSON summary on stdout.
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/cli/cli.h"
#include "engine/model/model.h"
#include "engine/session/session.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"
#include "probes/trace/trace_writer.h"

namespace moescope::cli {

namespace {

const char* kUsage =
    "usage: moescope trace MODEL (--prompt TEXT | --prompt-ids 1,2,3 | --prompts FILE.jsonl)\n"
    "         [--max-new-tokens N] [--greedy | --temperature T --top-p P --top-k K --seed S]\n"
    "         [--strategy SPEC] [--record logits] [--backend cpu|cuda] [--threads N]\n"
    "         [--ignore-eos] [--no-special-tokens] -o TRACE.h5\n";

struct UsageError : Error {
  using Error::Error;
};

struct Prompt {
  bool is_text = true;
  std::string text;
  std::vector<int32_t> ids;
  std::string label;
};

struct Options {
  std::string model;
  std::vector<Prompt> prompts;
  int sources = 0;
  int max_new = 64;
  SamplingParams sampling;
  bool sampling_flag = false, greedy_flag = false;
  SessionOptions session;
  bool record_logits = false;
  bool stop_at_eos = true;
  bool special_tokens = true;
  std::string output;
};

long parse_int(const std::string& flag, const std::string& v, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  const long x = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || x < lo || x > hi)
    throw UsageError(flag + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + v + "'");
  return x;
}

float parse_float(const std::string& flag, const std::string& v, float lo, float hi, bool lo_open) {
  char* end = nullptr;
  const float x = std::strtof(v.c_str(), &end);
  if (v.empty() || *end || !std::isfinite(x) || x < lo || x > hi || (lo_open && x == lo))
    throw UsageError(flag + ": expected a number in " + (lo_open ? "(" : "[") + std::to_string(lo).substr(0, 4) + ", " +
                     std::to_string(hi).substr(0, 5) + "], got '" + v + "'");
  return x;
}

std::vector<int32_t> parse_ids(const std::string& v) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (true) {
    const size_t comma = v.find(',', start);
    const std::string part = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    ids.push_back(int32_t(parse_int("--prompt-ids", part, 0, 0x7fffffff)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ids;
}

// One JSON object per line: "text" (or "ids"), optional "domain" / "label" (the run's label attr).
std::vector<Prompt> read_prompts(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError(path + ": cannot read the prompts file");
  std::vector<Prompt> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(lineno);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      throw UsageError(where + ": not a JSON object");
    }
    if (!j.is_object()) throw UsageError(where + ": not a JSON object");
    Prompt p;
    if (j.contains("text") && j["text"].is_string()) {
      p.text = j["text"].get<std::string>();
    } else if (j.contains("ids") && j["ids"].is_array()) {
      p.is_text = false;
      for (const auto& x : j["ids"]) {
        if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > 0x7fffffff)
          throw UsageError(where + ": \"ids\" must hold non-negative integers");
        p.ids.push_back(int32_t(x.get<int64_t>()));
      }
      if (p.ids.empty()) throw UsageError(where + ": \"ids\" is empty");
    } else {
      throw UsageError(where + ": needs a \"text\" string (or an \"ids\" array)");
    }
    for (const char* key : {"label", "domain"})
      if (j.contains(key) && j[key].is_string()) {
        p.label = j[key].get<std::string>();
        break;
      }
    out.push_back(std::move(p));
  }
  if (out.empty()) throw UsageError(path + ": no prompts");
  return out;
}

Options parse(const Args& args) {
  Options o;
  auto value = [&](size_t& i) -> const std::string& {
    if (i + 1 >= args.size()) throw UsageError(args[i] + " needs a value");
    return args[++i];
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--prompt") {
      Prompt p;
      p.text = value(i);
      o.prompts.push_back(p);
      ++o.sources;
    } else if (a == "--prompt-ids") {
      Prompt p;
      p.is_text = false;
      p.ids = parse_ids(value(i));
      o.prompts.push_back(p);
      ++o.sources;
    } else if (a == "--prompts") {
      for (Prompt& p : read_prompts(value(i))) o.prompts.push_back(std::move(p));
      ++o.sources;
    } else if (a == "--max-new-tokens") {
      o.max_new = int(parse_int(a, value(i), 0, 1 << 20));
    } else if (a == "--greedy") {
      o.greedy_flag = true;
    } else if (a == "--temperature") {
      o.sampling.temperature = parse_float(a, value(i), 0.0f, 100.0f, true);
      o.sampling_flag = true;
    } else if (a == "--top-p") {
      o.sampling.top_p = parse_float(a, value(i), 0.0f, 1.0f, true);
      o.sampling_flag = true;
    } else if (a == "--top-k") {
      o.sampling.top_k = int(parse_int(a, value(i), 0, 1 << 30));
      o.sampling_flag = true;
    } else if (a == "--seed") {
      const std::string& v = value(i);
      char* end = nullptr;
      errno = 0;
      o.sampling.seed = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end || errno || v[0] == '-')
        throw UsageError("--seed: expected a non-negative integer, got '" + v + "'");
      o.sampling_flag = true;
    } else if (a == "--strategy") {
      o.session.strategy = value(i);
    } else if (a == "--record") {
      const std::string& v = value(i);
      if (v != "logits") throw UsageError("--record: expected 'logits', got '" + v + "'");
      o.record_logits = true;
    } else if (a == "--backend") {
      o.session.backend = value(i);
      if (o.session.backend != "cpu" && o.session.backend != "cuda")
        throw UsageError("--backend: expected cpu or cuda, got '" + o.session.backend + "'");
    } else if (a == "--threads") {
      o.session.threads = int(parse_int(a, value(i), 0, 4096));
    } else if (a == "--ignore-eos") {
      o.stop_at_eos = false;
    } else if (a == "--no-special-tokens") {
      o.special_tokens = false;
    } else if (a == "-o" || a == "--output") {
      o.output = value(i);
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError("unknown option '" + a + "'");
    } else if (o.model.empty()) {
      o.model = a;
    } else {
      throw UsageError("unexpected argument '" + a + "'");
    }
  }
  if (o.model.empty()) throw UsageError("missing MODEL (a checkpoint directory)");
  if (o.sources != 1) throw UsageError("give exactly one of --prompt TEXT, --prompt-ids 1,2,3 and --prompts FILE.jsonl");
  if (o.output.empty()) throw UsageError("missing -o TRACE.h5");
  if (o.greedy_flag && o.sampling_flag) throw UsageError("--greedy cannot be combined with sampling options");
  o.sampling.greedy = !o.sampling_flag;
  return o;
}

}  // namespace

int cmd_trace(const Args& args) {
  for (const auto& a : args)
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  Options o;
  try {
    o = parse(args);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "moescope trace: error: %s\n", e.what());
    return 2;
  }
  auto session = Session::open(o.model, o.session);
  session->set_sampling(o.sampling);
  const ModelConfig& cfg = session->model().config();
  const Tokenizer* tok = session->tokenizer();

  TraceWriterOptions wopt;
  wopt.record_logits = o.record_logits;
  wopt.keep_logits = false;  // [N, V] goes to the file only; the summary needs none of it
  TraceWriter writer(o.output, wopt);
  session->add_sink(&writer);

  nlohmann::json summary;
  summary["trace"] = o.output;
  summary["runs"] = nlohmann::json::array();
  for (size_t r = 0; r < o.prompts.size(); ++r) {
    const Prompt& p = o.prompts[r];
    RunData meta;
    meta.name = std::to_string(r);
    meta.model = o.model;
    meta.family = cfg.model_type;
    meta.model_config = cfg.config_text;
    meta.strategy = session->strategy_spec();
    meta.backend = o.session.backend;
    meta.tokenizer_sha256 = tok ? tok->sha256() : "";
    meta.prompt = p.is_text ? p.text : "";
    meta.label = p.label;
    meta.extra_attrs["sampling"] = o.sampling.greedy ? "greedy" : "sample";
    meta.extra_attrs["seed"] = std::to_string(o.sampling.seed);
    meta.extra_num_attrs["temperature"] = o.sampling.temperature;
    meta.extra_num_attrs["top_p"] = o.sampling.top_p;
    meta.extra_num_attrs["top_k"] = o.sampling.top_k;
    meta.extra_num_attrs["max_new_tokens"] = o.max_new;
    meta.extra_num_attrs["add_special_tokens"] = o.special_tokens ? 1 : 0;
    meta.extra_num_attrs["stop_at_eos"] = o.stop_at_eos ? 1 : 0;

    // The prompt first (it may throw for a bad id or a missing tokenizer), then the run's bookkeeping.
    if (p.is_text) session->set_prompt_text(p.text, o.special_tokens);
    else session->set_prompt_ids(p.ids);
    const int prompt_len = session->prompt_length();
    const int room = session->max_context() - prompt_len;
    if (room < 0)
      throw Error("prompt " + std::to_string(r) + " has " + std::to_string(prompt_len) +
                  " tokens, more than the context of " + std::to_string(session->max_context()));
    const int n = std::min(o.max_new, room);

    writer.begin_run(std::move(meta), &cfg);
    writer.set_prompt_length(prompt_len);
    if (tok) writer.set_decoder([tok](int32_t id) { return tok->display_piece(id); });
    else writer.set_decoder([](int32_t id) { return std::to_string(id); });
    writer.reserve(prompt_len + n + 1, n + 2);

    const auto t0 = std::chrono::steady_clock::now();
    session->prefill();
    const int generated = session->run(n, o.stop_at_eos);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const RunData done = writer.end_run();

    int64_t decode_ns = 0;
    for (int s = 0; s < done.num_steps(); ++s)
      if (!done.step_prefill[size_t(s)]) decode_ns += done.step_ns[size_t(s)];
    nlohmann::json jr;
    jr["name"] = done.name;
    jr["label"] = done.label;
    jr["prompt_tokens"] = prompt_len;
    jr["generated_tokens"] = generated;
    jr["tokens"] = done.num_tokens();
    jr["steps"] = done.num_steps();
    jr["seconds"] = secs;
    jr["decode_tokens_per_s"] = decode_ns > 0 ? double(generated) * 1e9 / double(decode_ns) : 0.0;
    summary["runs"].push_back(jr);
  }
  session->remove_sink(&writer);
  writer.close();
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}

}  // namespace moescope::cli
