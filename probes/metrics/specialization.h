// Expert specialisation: expert x category count matrices (token classes, prompt labels such as the demo
// suite's domains) with normalised PMI, and the most frequent tokens of each expert. Formulas in
// docs/metrics.md ("Specialisation").
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "probes/run_data.h"

namespace moescope::metrics {

struct CategoryMatrix {
  std::vector<std::string> categories;  // [C]
  int num_experts = 0;                  // E
  std::vector<int64_t> counts;          // [C, E] row-major: selections of expert e by tokens of category c
  std::vector<double> npmi;             // [C, E] normalised PMI, in [-1, 1] (see finish())
  std::vector<double> lift;             // [C, E] p(e | c) / (1 / E): share of c's selections vs uniform routing

  int64_t count(int c, int e) const { return counts[size_t(c) * num_experts + e]; }
  // Fill npmi and lift from counts.
  void finish();
};

// nPMI of a count matrix [C, E]: pmi = ln(p(c,e) / (p(c) p(e))), npmi = pmi / -ln p(c,e);
// -1 where a cell is empty, 0 where its row or column is empty, 1 where p(c,e) = 1.
std::vector<double> npmi(const std::vector<int64_t>& counts, int rows, int cols);

struct SpecializationOptions {
  bool top1_only = false;      // only each token's first-ranked expert
  bool include_dropped = false;
};

// Adds the selections of run at moe_layer to matrix row category[t] for each token t (negative = skip).
void accumulate(CategoryMatrix& m, const RunData& run, int moe_layer, const std::vector<int>& category,
                const SpecializationOptions& opt = {});

// Expert x token-class matrix (rows in TokenClass order). is_special_id: optional, marks tokenizer
// special tokens.
CategoryMatrix token_class_matrix(const RunData& run, int moe_layer, const SpecializationOptions& opt = {},
                                  const std::function<bool(int64_t)>& is_special_id = {});
// Expert x label matrix over several runs: every token of a run counts for the run's label
// ("" -> "unlabelled"); rows in first-seen order. include_prompt_only: only prompt tokens.
CategoryMatrix label_matrix(const std::vector<const RunData*>& runs, int moe_layer,
                            const SpecializationOptions& opt = {}, bool prompt_only = false);

struct TopToken {
  int64_t id = -1;
  std::string text;
  int64_t count = 0;
};
// For each expert, the n token ids that chose it most often at moe_layer (ties: smaller id first).
std::vector<std::vector<TopToken>> top_tokens_per_expert(const RunData& run, int moe_layer, int n,
                                                         const SpecializationOptions& opt = {});

}  // namespace moescope::metrics
