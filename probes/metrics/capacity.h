// Capacity gap: what a capacity limit (GShard / Switch Transformer style) would do to a recorded run.
// capacity = ceil(CF * T * k / E); assignments beyond an expert's capacity are dropped in arrival order.
// Formulas in docs/metrics.md ("Capacity gap").
#pragma once
#include <cstdint>
#include <vector>

#include "probes/run_data.h"

namespace moescope::metrics {

enum class ArrivalOrder {
  TokenMajor,  // position by position, each token's experts in router rank order (default)
  RankMajor,   // GShard: every token's 1st choice (by position), then every token's 2nd choice, ...
};

struct CapacityOptions {
  double capacity_factor = 1.0;  // CF
  int k = 0;                     // assignments per token in the formula; 0 = the run's K
  int begin = 0;                 // token range [begin, end); end < 0 = all
  int end = -1;
  ArrivalOrder order = ArrivalOrder::TokenMajor;
};

struct CapacityGap {
  double capacity_factor = 0;
  int tokens = 0;                        // T
  int k = 0;
  int capacity = 0;                      // per expert
  std::vector<int64_t> demand;           // [E] assignments routed to each expert
  std::vector<int64_t> overflow;         // [E] max(0, demand - capacity)
  int64_t assignments = 0;               // sum of demand
  int64_t dropped_assignments = 0;       // sum of overflow
  int tokens_with_drop = 0;              // tokens that lose at least one of their experts
  int tokens_fully_dropped = 0;          // tokens that lose all of their experts
  double dropped_token_fraction = 0;     // tokens_with_drop / T
  std::vector<int32_t> dropped_positions;  // positions of tokens_with_drop, ascending
};

int capacity_for(double capacity_factor, int tokens, int k, int num_experts);
CapacityGap capacity_gap(const RunData& run, int moe_layer, const CapacityOptions& opt = {});

}  // namespace moescope::metrics
