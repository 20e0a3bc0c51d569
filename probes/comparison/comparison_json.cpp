// comparison_to_json(): the summary `moescope compare --json` prints (per-run numbers, per-pair
// overall metrics and per-layer routing metrics; the per-position arrays stay in the HDF5 file).
#include "probes/comparison/comparison_json.h"

#include <cmath>

namespace moescope {

namespace {
using ojson = nlohmann::ordered_json;
ojson num(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }
}  // namespace

nlohmann::ordered_json comparison_to_json(const ComparisonResult& r) {
  ojson j;
  j["mode"] = r.teacher_forced ? "teacher-forced" : "free-running";
  j["layers"] = r.moe_layers;
  ojson runs = ojson::array();
  for (const auto& run : r.runs) {
    ojson o;
    o["name"] = run.name;
    o["strategy"] = run.strategy;
    o["tokens"] = run.tokens;
    o["prompt_length"] = run.prompt_length;
    o["perplexity"] = num(run.perplexity);
    o["scored_tokens"] = run.scored_tokens;
    o["dropped_fraction"] = num(run.dropped_fraction);
    runs.push_back(std::move(o));
  }
  j["runs"] = std::move(runs);
  ojson pairs = ojson::array();
  for (const PairComparison& p : r.pairs) {
    ojson o;
    o["a"] = r.runs[p.a].name;
    o["b"] = r.runs[p.b].name;
    o["strategy_a"] = r.runs[p.a].strategy;
    o["strategy_b"] = r.runs[p.b].strategy;
    o["positions"] = p.positions;
    o["first_divergence"] = p.first_divergence;
    o["jaccard"] = num(p.jaccard_mean);
    o["top1_expert_agreement"] = num(p.top1_expert_agreement);
    o["load_js"] = num(p.load_js_mean);
    o["dropped_a"] = num(p.dropped_a);
    o["dropped_b"] = num(p.dropped_b);
    if (p.has_logits) {
      o["kl_mean"] = num(p.kl_mean);
      o["kl_max"] = num(p.kl_max);
      o["top1_token_agreement"] = num(p.top1_token_agreement);
    } else {
      o["kl_mean"] = o["kl_max"] = o["top1_token_agreement"] = nullptr;
    }
    ojson layers = ojson::array();
    for (size_t l = 0; l < p.layer_jaccard.size(); ++l)
      layers.push_back({{"layer", r.moe_layers.size() > l ? r.moe_layers[l] : int(l)},
                        {"jaccard", num(p.layer_jaccard[l])},
                        {"top1_expert_agreement", num(p.layer_top1_expert_agreement[l])},
                        {"load_js", num(p.layer_load_js[l])},
                        {"dropped_a", num(p.layer_dropped_a[l])},
                        {"dropped_b", num(p.layer_dropped_b[l])}});
    o["layers"] = std::move(layers);
    pairs.push_back(std::move(o));
  }
  j["pairs"] = std::move(pairs);
  return j;
}

}  // namespace moescope
