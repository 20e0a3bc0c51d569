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
#include "app/cli/cli_args.h"
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

struct Options {
  std::string model;
  std::vector<PromptInput> prompts;
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

Options parse(const Args& args) {
  Options o;
  auto value = [&](size_t& i) -> const std::string& {
    if (i + 1 >= args.size()) throw UsageError(args[i] + " needs a value");
    return args[++i];
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--prompt") {
      PromptInput p;
      p.text = value(i);
      o.prompts.push_back(p);
      ++o.sources;
    } else if (a == "--prompt-ids") {
      PromptInput p;
      p.is_text = false;
      p.ids = parse_ids(a, value(i));
      o.prompts.push_back(p);
      ++o.sources;
    } else if (a == "--prompts") {
      for (PromptInput& p : read_prompts_file(value(i))) o.prompts.push_back(std::move(p));
      ++o.sources;
    } else if (a == "--max-new-tokens") {
      o.max_new = int(parse_int(a, value(i), 0, 1 << 20));
    } else if (a == "--greedy") {
      o.greedy_flag = true;
    } else if (a == "--temperature") {
      o.sampling.temperature = float(parse_number(a, value(i), 0.0f, 100.0f, true));
      o.sampling_flag = true;
    } else if (a == "--top-p") {
      o.sampling.top_p = float(parse_number(a, value(i), 0.0f, 1.0f, true));
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
    const PromptInput& p = o.prompts[r];
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
