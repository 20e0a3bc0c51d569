// Writes a ComparisonResult into an HDF5 group (the /comparison group of a compare trace).
#pragma once
#include <hdf5.h>

#include "probes/comparison/comparison.h"

namespace moescope {

// Layout (docs/strategies.md, "Comparison trace"): attrs on `group`, per-run arrays, and one subgroup
// pairs/<run_a>-vs-<run_b> per pair. Run names come from result.runs[i].name.
void write_comparison(hid_t group, const ComparisonResult& result);

}  // namespace moescope
