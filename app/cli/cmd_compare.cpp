// `moescope compare MODEL --strategy A --strategy B [...] (--prompt TEXT | --prompt-ids 1,2,3 |
// --prompts FILE.jsonl) [--max-new-tokens N] [--teacher-forced] -o CMP.h5 [--json]`
// Runs one model on the same prompt under two or more routing strategies (run_comparison,
// probes/comparison/compare_runner.h), writes one trace run per strategy (with next-token logits)
// plus a /comparison group, and prints the metrics (docs/strategies.md).
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/cli/cli.h"
#include "app/cli/cli_args.h"
#include "engine/model/model.h"
#include "engine/routing/strategy.h"
#include "engine/session/session.h"
#include "engine/util/error.h"
#include "probes/comparison/compare_runner.h"
#include "probes/comparison/comparison.h"
#include "probes/comparison/comparison_h5.h"
#include "probes/comparison/comparison_json.h"
#include "probes/trace/trace_file.h"
#include "probes/trace/trace_writer.h"

namespace moescope::cli {

namespace {

struct CompareOptions {
  std::string model;
  std::vector<std::string> strategies;
  std::vector<PromptInput> prompts;
  int max_new_tokens = 32;
  bool teacher_forced = false;
  bool json = false;
  bool add_special_tokens = true;
  std::string output;
  std::string backend = "cpu";
  int threads = 0;
  SamplingParams sampling;
};

const char* kUsage =
    "usage: moescope compare MODEL --strategy A --strategy B [...] (--prompt TEXT | --prompt-ids 1,2,3 | "
    "--prompts FILE.jsonl) [--max-new-tokens N] [--teacher-forced] [--greedy | --temperature T --top-p P "
    "--top-k K --seed S] [--no-special-tokens] [--backend cpu|cuda] [--threads N] -o CMP.h5 [--json]";

CompareOptions parse_args(const Args& args) {
  CompareOptions o;
  bool sampling_given = false, greedy_given = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(a + ": missing value");
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      throw UsageError("help");
    } else if (a == "--strategy" || a == "-s") {
      o.strategies.push_back(value());
    } else if (a == "--prompt") {
      PromptInput p;
      p.text = value();
      o.prompts.push_back(std::move(p));
    } else if (a == "--prompt-ids") {
      const std::string flag = a;
      PromptInput p;
      p.is_text = false;
      p.ids = parse_ids(flag, value());
      o.prompts.push_back(std::move(p));
    } else if (a == "--prompts") {
      for (auto& p : read_prompts_file(value())) o.prompts.push_back(std::move(p));
    } else if (a == "--max-new-tokens") {
      o.max_new_tokens = int(parse_int(a, value(), 0, 1 << 20));
    } else if (a == "--teacher-forced") {
      o.teacher_forced = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "-o" || a == "--output") {
      o.output = value();
    } else if (a == "--backend") {
      o.backend = value();
    } else if (a == "--threads") {
      o.threads = int(parse_int(a, value(), 0, 1024));
    } else if (a == "--no-special-tokens") {
      o.add_special_tokens = false;
    } else if (a == "--greedy") {
      greedy_given = true;
    } else if (a == "--temperature") {
      o.sampling.temperature = float(parse_number(a, value()));
      sampling_given = true;
    } else if (a == "--top-p") {
      o.sampling.top_p = float(parse_number(a, value()));
      sampling_given = true;
    } else if (a == "--top-k") {
      o.sampling.top_k = int(parse_int(a, value(), 0, 1 << 30));
      sampling_given = true;
    } else if (a == "--seed") {
      o.sampling.seed = uint64_t(parse_int(a, value(), 0, INT64_MAX));
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError("unknown option '" + a + "'");
    } else if (o.model.empty()) {
      o.model = a;
    } else {
      throw UsageError("unexpected argument '" + a + "' (the model is '" + o.model + "')");
    }
  }
  if (greedy_given && sampling_given) throw UsageError("--greedy cannot be combined with --temperature/--top-p/--top-k");
  o.sampling.greedy = !sampling_given;
  if (o.model.empty()) throw UsageError("missing MODEL (a checkpoint directory)");
  if (o.strategies.size() < 2) throw UsageError("give at least two --strategy options to compare");
  if (o.prompts.empty()) throw UsageError("missing prompt: give --prompt, --prompt-ids or --prompts");
  if (o.output.empty()) throw UsageError("missing -o CMP.h5");
  return o;
}

}  // namespace

int cmd_compare(const Args& args) {
  CompareOptions opt;
  try {
    opt = parse_args(args);
  } catch (const UsageError& e) {
    if (std::string(e.what()) == "help") {
      std::printf("%s\n", kUsage);
      return 0;
    }
    std::fprintf(stderr, "moescope compare: error: %s (see `moescope compare --help`)\n", e.what());
    return 2;
  }

  SessionOptions so;
  so.backend = opt.backend;
  so.threads = opt.threads;
  std::unique_ptr<Session> session = Session::open(opt.model, so);
  const ModelConfig& config = session->model().config();
  // Validate every spec before creating the output file (errors name the spec).
  for (const std::string& spec : opt.strategies) make_strategy(spec, config);
  session->set_sampling(opt.sampling);

  TraceWriterOptions two;
  two.record_logits = true;
  TraceWriter writer(opt.output, two);
  const bool multi = opt.prompts.size() > 1;
  nlohmann::ordered_json prompts_json = nlohmann::ordered_json::array();
  CompareRequest request;
  request.strategies = opt.strategies;
  request.max_new_tokens = opt.max_new_tokens;
  request.teacher_forced = opt.teacher_forced;
  request.model = opt.model;
  request.backend = opt.backend;

  for (size_t pi = 0; pi < opt.prompts.size(); ++pi) {
    const PromptInput& in = opt.prompts[pi];
    ComparePrompt prompt;
    prompt.is_text = in.is_text;
    prompt.text = in.text;
    prompt.ids = in.ids;
    prompt.label = in.label;
    prompt.add_special_tokens = opt.add_special_tokens;
    std::vector<std::string> names;
    for (size_t si = 0; si < opt.strategies.size(); ++si)
      names.push_back(multi ? "p" + std::to_string(pi) + ".s" + std::to_string(si) : std::to_string(si));
    CompareOutcome outcome = run_comparison(*session, prompt, request, &writer, names);

    auto result = std::make_shared<ComparisonResult>(std::move(outcome.result));
    const std::string group = multi ? "comparison/p" + std::to_string(pi) : "comparison";
    writer.post([result, group](TraceFile& f) {
      h5::Id g = f.group(group);
      write_comparison(g, *result);
    });
    nlohmann::ordered_json j = comparison_to_json(*result);
    for (size_t si = 0; si < outcome.runs.size(); ++si) {
      j["runs"][si]["continuation"] = outcome.continuations[si];
      j["runs"][si]["requested"] = opt.strategies[si];
    }
    if (in.is_text) j["prompt"] = in.text;
    if (!in.label.empty()) j["label"] = in.label;
    prompts_json.push_back(std::move(j));
  }
  if (multi) {
    writer.post([n = opt.prompts.size(), tf = opt.teacher_forced](TraceFile& f) {
      h5::Id g = f.group("comparison");
      h5::write_attr(g, "mode", tf ? "teacher-forced" : "free-running");
      h5::write_attr(g, "num_prompts", int64_t(n));
    });
  }
  writer.close();

  nlohmann::ordered_json out;
  if (multi) {
    out["mode"] = opt.teacher_forced ? "teacher-forced" : "free-running";
    out["prompts"] = std::move(prompts_json);
  } else {
    out = std::move(prompts_json[0]);
  }
  out["output"] = opt.output;
  out["model"] = opt.model;
  if (opt.json) {
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
    return 0;
  }
  // Human-readable summary.
  for (const auto& pj : multi ? out["prompts"] : nlohmann::ordered_json::array({out})) {
    for (const auto& r : pj["runs"])
      std::printf("run %-6s %-28s tokens %4d  ppl %s  dropped %.4f\n", r["name"].get<std::string>().c_str(),
                  r["strategy"].get<std::string>().c_str(), r["tokens"].get<int>(),
                  r["perplexity"].is_null() ? "n/a" : std::to_string(r["perplexity"].get<double>()).c_str(),
                  r["dropped_fraction"].get<double>());
    for (const auto& p : pj["pairs"])
      std::printf("%s vs %s: jaccard %.4f  top1-expert %.4f  load-JS %.4f  KL %s  top1-token %s  diverge@%d\n",
                  p["a"].get<std::string>().c_str(), p["b"].get<std::string>().c_str(), p["jaccard"].get<double>(),
                  p["top1_expert_agreement"].get<double>(), p["load_js"].get<double>(),
                  p["kl_mean"].is_null() ? "n/a" : std::to_string(p["kl_mean"].get<double>()).c_str(),
                  p["top1_token_agreement"].is_null() ? "n/a"
                                                      : std::to_string(p["top1_token_agreement"].get<double>()).c_str(),
                  p["first_divergence"].get<int>());
  }
  std::printf("wrote %s\n", opt.output.c_str());
  return 0;
}

}  // namespace moescope::cli
