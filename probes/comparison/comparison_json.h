// The JSON summary of a ComparisonResult (printed by `moescope compare --json`). NaN becomes null.
#pragma once
#include <nlohmann/json.hpp>

#include "probes/comparison/comparison.h"

namespace moescope {

nlohmann::ordered_json comparison_to_json(const ComparisonResult& result);

}  // namespace moescope
