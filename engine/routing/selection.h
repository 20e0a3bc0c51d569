// Building blocks of a composed routing strategy (docs/strategies.md):
//   Selection  - chooses each token's experts and weights (native, topk, topp, expert-choice, random, hash);
//                exactly one per strategy, `native` when the spec names none;
//   ExpertMask - experts removed from the router before selection (mask:L.E);
//   CapacityLimit - drops assignments beyond an expert's capacity after selection (capacity:CF);
//   no-shared  - a flag on the decision.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/routing/routing_types.h"

namespace moescope {

struct ModelConfig;

// Masked experts per MoE layer ([M][E], 1 = never chosen). Empty rows: nothing masked there.
struct ExpertMask {
  std::vector<std::vector<uint8_t>> disabled;
  const uint8_t* layer(int moe_layer) const {
    if (moe_layer < 0 || moe_layer >= int(disabled.size()) || disabled[moe_layer].empty()) return nullptr;
    return disabled[moe_layer].data();
  }
  int count(int moe_layer) const;  // masked experts at this MoE layer
  bool empty() const;
};

class Selection {
 public:
  virtual ~Selection() = default;
  // Reset `out` to in.tokens x k_max() and fill it. `disabled` is [E] or null.
  virtual void select(const RouterInput& in, const uint8_t* disabled, RoutingDecision& out) = 0;
  virtual std::string spec() const = 0;
  // Experts per token it aims for: the k in the capacity formula C = ceil(CF*T*k/E).
  virtual int nominal_k() const = 0;
  // Widest row it can produce (RoutingDecision::k_max); fixed so every step of a run has the same K.
  virtual int k_max() const = 0;
  // Fewest experts that must stay unmasked at each layer for the selection to be well defined.
  virtual int min_unmasked() const { return 1; }
  virtual void rewind(int position) {}
  virtual void reset() {}
};

// Window (in tokens) over which capacity is counted while decoding; 0 = the prompt length.
struct CapacityOptions {
  double factor = 1.0;   // CF
  bool drop_end = false; // policy: false = overflow (GShard arrival order), true = end (sequence order)
  int window = 0;        // W while decoding; 0 = default_decode_window()
};

// Default decode window: the prompt (last prefill batch) length but at least kMinDecodeWindow, so a
// short prompt does not give a degenerate one- or two-token window; 128 when no prompt was seen.
constexpr int kMinDecodeWindow = 32;
inline int default_decode_window(int prompt_length) {
  if (prompt_length <= 0) return 128;
  return prompt_length > kMinDecodeWindow ? prompt_length : kMinDecodeWindow;
}

// Factories (one file each). They validate nothing about the model: strategy_parse.cpp does.
std::unique_ptr<Selection> make_native_selection(const ModelConfig& config);
std::unique_ptr<Selection> make_topk_selection(const ModelConfig& config, int k);
std::unique_ptr<Selection> make_topp_selection(const ModelConfig& config, double p);
std::unique_ptr<Selection> make_expert_choice_selection(const ModelConfig& config, const CapacityOptions& opts);
std::unique_ptr<Selection> make_random_selection(const ModelConfig& config, uint64_t seed, bool softmax_weights);
std::unique_ptr<Selection> make_hash_selection(const ModelConfig& config, int k);

// Capacity modifier: drops assignments beyond C per expert (rows keep their rank slots, -1 / 0.0).
class CapacityLimit {
 public:
  CapacityLimit(const ModelConfig& config, const CapacityOptions& opts, int nominal_k);
  void apply(const RouterInput& in, RoutingDecision& out);
  std::string spec() const;
  void rewind(int position);
  void reset();

 private:
  struct Kept {
    int32_t position;
    std::vector<int32_t> experts;
  };
  int window_for(int moe_layer) const;
  int m_num_experts;
  int m_k;
  CapacityOptions m_opts;
  std::vector<std::vector<Kept>> m_history;  // per MoE layer, in position order
  std::vector<int> m_prefill_len;            // per MoE layer: length of the last prefill batch
};

// C = ceil(CF * T * k / E), computed in double in that order (so scripts can reproduce it).
int capacity_of(double factor, int tokens, int k, int num_experts);

// Deterministic 64-bit mixing (splitmix64), used by random and hash.
uint64_t mix64(uint64_t x);

// Parse helpers shared by the part parsers: strict numbers, whole-string matches only.
bool parse_int(const std::string& s, long long& out);
bool parse_double(const std::string& s, double& out);
// Shortest text that reads back as `v` ("0.5", "1.25"): canonical numbers in spec strings.
std::string format_number(double v);

}  // namespace moescope
