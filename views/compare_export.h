// Writes a comparison shown in the compare view as a compare trace (CMP.h5): every run under /runs
// and strat's /comparison group (probes/comparison/comparison_h5.h), the same layout as
// `moescope compare -o CMP.h5`, so the file reopens in the GUI and reads with h5py.
#pragma once
#include <string>
#include <vector>

#include "probes/comparison/comparison.h"
#include "probes/run_data.h"

namespace moescope::views {

// Throws moescope::Error naming the file when it cannot be written.
void export_comparison(const std::string& path, const std::vector<RunSnapshot>& runs, const ComparisonResult& result);

}  // namespace moescope::views
