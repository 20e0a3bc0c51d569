// RunData: everything recorded about one sequence under one strategy, in the layout of the HDF5 trace
// core (docs/trace-format.md). Filled by RunRecorder (a ProbeSink), written by TraceWriter, read back by
// TraceReader, and handed to views as an immutable snapshot (std::shared_ptr<const RunData>).
// N = tokens, M = MoE layers, E = experts, K = widest selection (rows padded with -1 / 0.0).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace moescope {

struct RunData {
  // attributes (trace /runs/<name> attrs)
  std::string name = "0";
  std::string model;           // path or name
  std::string family;
  std::string model_config;    // config.json text
  std::string strategy = "native";
  std::string backend = "cpu";
  std::string tokenizer_sha256;
  std::string prompt;          // text when given
  std::string label;           // prompt label, e.g. the demo suite's "domain" (attr "label"; "" = none)
  std::map<std::string, std::string> extra_attrs;  // further string attrs (sampling, capacity, ...)
  std::map<std::string, double> extra_num_attrs;   // further numeric attrs

  // shape
  int num_experts = 0;         // E
  int k_max = 0;               // K
  int vocab_size = 0;          // V (only meaningful when next_logits is recorded)
  std::vector<int32_t> moe_layers;  // [M] model layer index of each MoE layer

  // per token
  std::vector<int64_t> token_ids;       // [N]
  std::vector<std::string> token_text;  // [N] decoded piece of each token
  std::vector<uint8_t> is_prompt;       // [N]

  // routing, row-major
  std::vector<float> router_logits;     // [N, M, E] raw router logits
  std::vector<int32_t> experts;         // [N, M, K] router rank order; -1 = none / dropped
  std::vector<float> weights;           // [N, M, K]
  std::vector<uint8_t> dropped;         // [N, M]

  std::vector<float> next_logits;       // [N, V] optional (--record logits)

  // per engine step
  std::vector<int64_t> step_ns;         // [S] wall time
  std::vector<int32_t> step_tokens;     // [S] tokens processed by the step
  std::vector<uint8_t> step_prefill;    // [S]
  std::vector<int32_t> step_first_position;  // [S] position of the step's first token

  int64_t next_token = -1;   // token sampled after the last recorded step, not yet run (-1 = none)
  bool complete = true;      // false: the writer did not finish (killed run; a readable prefix)

  int num_tokens() const { return int(token_ids.size()); }
  int num_moe_layers() const { return int(moe_layers.size()); }
  int num_steps() const { return int(step_ns.size()); }
  bool has_next_logits() const { return vocab_size > 0 && next_logits.size() == token_ids.size() * size_t(vocab_size); }
  // Accessors (no bounds checks in release builds).
  const float* logits_at(int token, int moe_layer) const {
    return router_logits.data() + (size_t(token) * moe_layers.size() + moe_layer) * num_experts;
  }
  const int32_t* experts_at(int token, int moe_layer) const {
    return experts.data() + (size_t(token) * moe_layers.size() + moe_layer) * k_max;
  }
  const float* weights_at(int token, int moe_layer) const {
    return weights.data() + (size_t(token) * moe_layers.size() + moe_layer) * k_max;
  }
  bool dropped_at(int token, int moe_layer) const {
    return dropped[size_t(token) * moe_layers.size() + moe_layer] != 0;
  }
};

using RunSnapshot = std::shared_ptr<const RunData>;

}  // namespace moescope
