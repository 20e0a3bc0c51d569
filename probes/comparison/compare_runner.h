// run_comparison(): run one prompt under several routing strategies on a Session and compare the
// runs (the engine side of `moescope compare`, usable from the GUI's worker thread as well).
// Free-running: every strategy generates its own continuation. Teacher-forced: the first strategy
// generates, the others are stepped through exactly its tokens (Session::force_pending_token).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "probes/comparison/comparison.h"
#include "probes/run_data.h"

namespace moescope {

class Session;
class TraceWriter;

struct ComparePrompt {
  bool is_text = true;
  std::string text;            // when is_text
  std::vector<int32_t> ids;    // otherwise
  std::string label;           // e.g. the prompt suite's domain
  bool add_special_tokens = true;
};

struct CompareRequest {
  std::vector<std::string> strategies;  // two or more specs (the same spec may repeat)
  int max_new_tokens = 32;
  bool teacher_forced = false;
  bool stop_at_eos = true;
  std::string model;                    // recorded in each run's `model` attr
  std::string backend = "cpu";          // recorded in each run's `backend` attr
};

struct CompareOutcome {
  std::vector<RunData> runs;               // one per strategy, with next-token logits
  std::vector<std::string> continuations;  // decoded generated text of each run ("" without tokenizer)
  ComparisonResult result;
};

// Runs are named run_names[i] (default: "0", "1", ...). With `writer`, each run is also streamed into
// its trace file (the writer must record logits); otherwise it is recorded in memory. `progress`
// is called before each strategy's run with its index. The session keeps the last run's state and
// strategy. Errors (bad spec, prompt too long, Cancelled) propagate; specs are validated first.
CompareOutcome run_comparison(Session& session, const ComparePrompt& prompt, const CompareRequest& request,
                              TraceWriter* writer = nullptr, std::vector<std::string> run_names = {},
                              const std::function<void(int)>& progress = {});

}  // namespace moescope
