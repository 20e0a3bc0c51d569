// run_comparison(): drives a Session through each strategy and records the runs (compare_runner.h).
#include "probes/comparison/compare_runner.h"

#include "engine/routing/strategy.h"
#include "engine/session/session.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"
#include "probes/recorder/run_recorder.h"
#include "probes/trace/trace_writer.h"

namespace moescope {

namespace {

// Removes the sink from the session on every exit path.
struct SinkGuard {
  Session& session;
  ProbeSink* sink;
  SinkGuard(Session& s, ProbeSink* k) : session(s), sink(k) { session.add_sink(sink); }
  ~SinkGuard() { session.remove_sink(sink); }
};

}  // namespace

CompareOutcome run_comparison(Session& session, const ComparePrompt& prompt, const CompareRequest& request,
                              TraceWriter* writer, std::vector<std::string> run_names,
                              const std::function<void(int)>& progress) {
  const ModelConfig& config = session.model().config();
  if (request.strategies.empty()) throw Error("compare: no strategies given");
  for (const std::string& spec : request.strategies) make_strategy(spec, config);  // validate all first
  for (size_t i = run_names.size(); i < request.strategies.size(); ++i) run_names.push_back(std::to_string(i));
  if (writer && !writer->wants_all_logits())
    throw Error("compare: the trace writer must record next-token logits");

  const Tokenizer* tok = session.tokenizer();
  CompareOutcome out;
  std::vector<int32_t> reference;  // teacher forcing: the first strategy's whole sequence
  for (size_t si = 0; si < request.strategies.size(); ++si) {
    if (progress) progress(int(si));
    session.set_strategy(request.strategies[si]);
    if (prompt.is_text) session.set_prompt_text(prompt.text, prompt.add_special_tokens);
    else session.set_prompt_ids(prompt.ids);
    const int P = session.prompt_length();

    RunData meta;
    meta.name = run_names[si];
    meta.model = request.model.empty() ? session.model().directory() : request.model;
    meta.family = family_name(config.family);
    meta.model_config = config.config_text;
    meta.strategy = session.strategy_spec();
    meta.backend = request.backend;
    meta.tokenizer_sha256 = tok ? tok->sha256() : std::string();
    meta.prompt = prompt.is_text ? prompt.text : std::string();
    meta.label = prompt.label;
    meta.extra_attrs["compare_mode"] = request.teacher_forced ? "teacher-forced" : "free-running";
    meta.extra_attrs["strategy_requested"] = request.strategies[si];

    RunRecorder recorder(true);
    ProbeSink* sink = writer ? static_cast<ProbeSink*>(writer) : &recorder;
    auto decoder = [tok](int32_t id) { return tok->display_piece(id); };
    if (writer) {
      writer->begin_run(std::move(meta), &config);
      writer->set_prompt_length(P);
      if (tok) writer->set_decoder(decoder);
      writer->reserve(P + request.max_new_tokens, request.max_new_tokens + 1);
    } else {
      recorder.begin(std::move(meta), &config);
      recorder.set_prompt_length(P);
      if (tok) recorder.set_decoder(decoder);
      recorder.reserve(P + request.max_new_tokens, request.max_new_tokens + 1);
    }
    {
      SinkGuard guard(session, sink);
      session.prefill();
      if (!request.teacher_forced || si == 0) {
        session.run(request.max_new_tokens, request.stop_at_eos);
      } else {
        for (size_t pos = size_t(P); pos < reference.size(); ++pos) {
          if (!session.force_pending_token(reference[pos]))
            throw Error("compare: teacher forcing could not force token " + std::to_string(reference[pos]));
          session.step();
        }
      }
    }
    if (si == 0) reference = session.tokens();
    const std::vector<int32_t>& seq = session.tokens();
    const std::vector<int32_t> generated(seq.begin() + std::min<size_t>(size_t(P), seq.size()), seq.end());
    out.continuations.push_back(tok ? tok->decode(generated) : std::string());
    out.runs.push_back(writer ? writer->end_run() : recorder.take());
  }
  std::vector<const RunData*> ptrs;
  for (const RunData& r : out.runs) ptrs.push_back(&r);
  out.result = compare_runs(ptrs, request.teacher_forced);
  return out;
}

}  // namespace moescope
