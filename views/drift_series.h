// Numbers behind the drift view's charts, from a RunData snapshot: row-normalised transition matrices
// and expert load per window of the sequence (the stacked-area chart). The metrics themselves
// (transition counts, conditional entropy, window JS divergence, token-id consistency) come from
// probes/metrics/drift.h; this file only reshapes them for plotting.
#pragma once
#include <cstdint>
#include <vector>

#include "probes/run_data.h"

namespace moescope::views {

// Each row of a [n, n] count matrix divided by its sum (rows without counts stay 0).
std::vector<double> row_normalise(const std::vector<int64_t>& counts, int n);

// Share of the selections (all k) each expert receives per window of `window` tokens at one MoE layer,
// [W][E]; the last window may be shorter (it is kept, unlike metrics::window_drift). Dropped tokens
// are skipped. window <= 0 is treated as 1.
std::vector<std::vector<double>> windowed_load(const RunData& run, int moe_layer, int window);

// A window size that gives about `target` windows over n tokens (at least 1 token per window).
int window_for(int tokens, int target);

}  // namespace moescope::views
