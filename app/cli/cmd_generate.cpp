// `moescope generate MODEL (--prompt TEXT | --prompt-ids 1,2,3) [--max-new-tokens N]
//   [--greedy | --temperature T --top-p P --top-k K --seed S] [--strategy SPEC] [--backend cpu|cuda]
//   [--threads N] [--ignore-eos] [--no-special-tokens]`
// Streams the generated text to stdout as tokens arrive (ids, one per line, for models without a
// tokenizer). Greedy unless a sampling option is given.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "app/cli/cli.h"
#include "app/cli/cli_args.h"
#include "engine/session/session.h"
#include "engine/tokenizer/streaming_decoder.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"

namespace moescope::cli {

namespace {

const char* kUsage =
    "usage: moescope generate MODEL (--prompt TEXT | --prompt-ids 1,2,3) [--max-new-tokens N]\n"
    "         [--greedy | --temperature T --top-p P --top-k K --seed S] [--strategy SPEC]\n"
    "         [--backend cpu|cuda] [--threads N] [--ignore-eos] [--no-special-tokens]\n";

struct Options {
  std::string model;
  bool have_text = false;
  std::string text;
  std::vector<int32_t> ids;
  int max_new = 64;
  SamplingParams sampling;
  bool sampling_flag = false;
  bool greedy_flag = false;
  SessionOptions session;
  bool stop_at_eos = true;
  bool special_tokens = true;
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
      o.text = value(i);
      o.have_text = true;
    } else if (a == "--prompt-ids") {
      o.ids = parse_ids(a, value(i));
    } else if (a == "--max-new-tokens") {
      o.max_new = int(parse_int(a, value(i), 0, 1 << 24));
    } else if (a == "--greedy") {
      o.greedy_flag = true;
    } else if (a == "--temperature") {
      o.sampling.temperature = float(parse_number(a, value(i)));
      o.sampling_flag = true;
    } else if (a == "--top-p") {
      o.sampling.top_p = float(parse_number(a, value(i)));
      o.sampling_flag = true;
    } else if (a == "--top-k") {
      o.sampling.top_k = int(parse_int(a, value(i), 0, 1 << 30));
      o.sampling_flag = true;
    } else if (a == "--seed") {
      const std::string& v = value(i);
      char* end = nullptr;
      o.sampling.seed = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end || v[0] == '-') throw UsageError("--seed: expected a non-negative integer, got '" + v + "'");
      o.sampling_flag = true;
    } else if (a == "--strategy") {
      o.session.strategy = value(i);
    } else if (a == "--backend") {
      o.session.backend = value(i);
    } else if (a == "--threads") {
      o.session.threads = int(parse_int(a, value(i), 0, 4096));
    } else if (a == "--ignore-eos") {
      o.stop_at_eos = false;
    } else if (a == "--no-special-tokens") {
      o.special_tokens = false;
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError("unknown option '" + a + "'");
    } else if (o.model.empty()) {
      o.model = a;
    } else {
      throw UsageError("unexpected argument '" + a + "'");
    }
  }
  if (o.model.empty()) throw UsageError("missing MODEL (a checkpoint directory)");
  if (o.have_text == !o.ids.empty()) throw UsageError("give exactly one of --prompt TEXT and --prompt-ids 1,2,3");
  if (o.greedy_flag && o.sampling_flag) throw UsageError("--greedy cannot be combined with sampling options");
  o.sampling.greedy = !o.sampling_flag;
  return o;
}

}  // namespace

int cmd_generate(const Args& args) {
  for (const auto& a : args)
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  Options o;
  try {
    o = parse(args);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "moescope generate: error: %s\n%s", e.what(), kUsage);
    return 2;
  }
  auto session = Session::open(o.model, o.session);
  session->set_sampling(o.sampling);
  if (o.have_text)
    session->set_prompt_text(o.text, o.special_tokens);
  else
    session->set_prompt_ids(o.ids);

  std::unique_ptr<StreamingDecoder> decoder;
  if (session->tokenizer()) decoder = std::make_unique<StreamingDecoder>(session->tokenizer_ptr(), true);
  const int room = session->max_context() - int(session->tokens().size());
  if (room < 0)
    throw Error("prompt of " + std::to_string(session->tokens().size()) + " tokens exceeds the context of " +
                std::to_string(session->max_context()));
  const int n = std::min(o.max_new, room);
  for (int i = 0; i < n; ++i) {
    const int32_t tok = session->step();
    if (o.stop_at_eos && session->is_eos(tok)) break;
    if (decoder) {
      const std::string piece = decoder->push(tok);
      std::fwrite(piece.data(), 1, piece.size(), stdout);
    } else {
      std::printf("%d\n", tok);
    }
    std::fflush(stdout);
  }
  if (decoder) {
    const std::string rest = decoder->finish();
    std::fwrite(rest.data(), 1, rest.size(), stdout);
    std::fputc('\n', stdout);
  }
  if (n < o.max_new && int(session->tokens().size()) >= session->max_context())
    std::fprintf(stderr, "moescope generate: note: stopped after %d new tokens at the context limit of %d\n", n,
                 session->max_context());
  return 0;
}

}  // namespace moescope::cli
