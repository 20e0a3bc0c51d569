// write_comparison(): the /comparison group of a compare trace (layout in docs/strategies.md).
#include "probes/comparison/comparison_h5.h"

#include "probes/trace/h5_util.h"

namespace moescope {

void write_comparison(hid_t group, const ComparisonResult& r) {
  using h5::write_attr;
  using h5::write_dataset;
  const hsize_t S = r.runs.size(), M = hsize_t(r.num_moe_layers), E = hsize_t(r.num_experts);
  write_attr(group, "mode", r.teacher_forced ? "teacher-forced" : "free-running");
  write_attr(group, "num_runs", int64_t(S));
  write_attr(group, "reference", S ? r.runs[0].name : std::string());

  std::vector<std::string> names, strategies;
  std::vector<int64_t> tokens, prompt_len, scored;
  std::vector<double> ppl, dropped, layer_dropped, load;
  for (const auto& run : r.runs) {
    names.push_back(run.name);
    strategies.push_back(run.strategy);
    tokens.push_back(run.tokens);
    prompt_len.push_back(run.prompt_length);
    scored.push_back(run.scored_tokens);
    ppl.push_back(run.perplexity);
    dropped.push_back(run.dropped_fraction);
    layer_dropped.insert(layer_dropped.end(), run.layer_dropped.begin(), run.layer_dropped.end());
    load.insert(load.end(), run.load.begin(), run.load.end());
  }
  h5::write_strings(group, "runs", names);
  h5::write_strings(group, "strategies", strategies);
  write_dataset(group, "layers", {M}, r.moe_layers);
  write_dataset(group, "tokens", {S}, tokens);
  write_dataset(group, "prompt_length", {S}, prompt_len);
  write_dataset(group, "perplexity", {S}, ppl);
  write_dataset(group, "scored_tokens", {S}, scored);
  write_dataset(group, "dropped_fraction", {S}, dropped);
  write_dataset(group, "layer_dropped", {S, M}, layer_dropped);
  write_dataset(group, "load", {S, M, E}, load);

  h5::Id pairs = h5::open_or_create_group(group, "pairs");
  for (const PairComparison& p : r.pairs) {
    const std::string& a = r.runs[p.a].name;
    const std::string& b = r.runs[p.b].name;
    h5::Id g = h5::create_group(pairs, a + "-vs-" + b);
    const hsize_t n = hsize_t(p.positions);
    write_attr(g, "run_a", a);
    write_attr(g, "run_b", b);
    write_attr(g, "strategy_a", r.runs[p.a].strategy);
    write_attr(g, "strategy_b", r.runs[p.b].strategy);
    write_attr(g, "positions", int64_t(p.positions));
    write_attr(g, "first_divergence", int64_t(p.first_divergence));
    write_attr(g, "jaccard", p.jaccard_mean);
    write_attr(g, "top1_expert_agreement", p.top1_expert_agreement);
    write_attr(g, "load_js", p.load_js_mean);
    write_attr(g, "dropped_a", p.dropped_a);
    write_attr(g, "dropped_b", p.dropped_b);
    write_dataset(g, "jaccard", {n, M}, p.jaccard);
    write_dataset(g, "top1_expert_agree", {n, M}, p.top1_expert_agree);
    write_dataset(g, "layer_jaccard", {M}, p.layer_jaccard);
    write_dataset(g, "layer_top1_expert_agreement", {M}, p.layer_top1_expert_agreement);
    write_dataset(g, "layer_load_js", {M}, p.layer_load_js);
    write_dataset(g, "layer_dropped_a", {M}, p.layer_dropped_a);
    write_dataset(g, "layer_dropped_b", {M}, p.layer_dropped_b);
    write_attr(g, "has_logits", int64_t(p.has_logits ? 1 : 0));
    if (p.has_logits) {
      write_attr(g, "kl_mean", p.kl_mean);
      write_attr(g, "kl_max", p.kl_max);
      write_attr(g, "top1_token_agreement", p.top1_token_agreement);
      write_dataset(g, "kl", {n}, p.kl);
      write_dataset(g, "top1_token_agree", {n}, p.top1_token_agree);
    }
  }
}

}  // namespace moescope
