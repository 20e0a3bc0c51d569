// Choosing between memory-mapped and resident (huge-page) weights.
#include "engine/checkpoint/weight_residency.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engine/util/error.h"

namespace moescope {

const char* residency_name(WeightResidency r) {
  switch (r) {
    case WeightResidency::Mapped: return "mapped";
    case WeightResidency::Resident: return "resident";
    default: return "auto";
  }
}

bool parse_residency(const std::string& s, WeightResidency& out) {
  if (s == "auto") out = WeightResidency::Auto;
  else if (s == "mapped") out = WeightResidency::Mapped;
  else if (s == "resident") out = WeightResidency::Resident;
  else return false;
  return true;
}

WeightResidency auto_residency(uint64_t checkpoint_bytes, uint64_t available_bytes) {
  return checkpoint_bytes <= available_bytes / 2 ? WeightResidency::Resident : WeightResidency::Mapped;
}

namespace {

uint64_t mem_available_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream ss(line.substr(13));
    uint64_t kib = 0;
    if (ss >> kib) return kib * 1024;
  }
  return 0;  // unknown: the rule then picks Mapped, which is always safe
}

}  // namespace

WeightResidency resolve_residency(WeightResidency requested, uint64_t checkpoint_bytes) {
  if (requested != WeightResidency::Auto) return requested;
  if (const char* env = std::getenv("MOESCOPE_WEIGHTS"); env && *env) {
    WeightResidency r;
    if (!parse_residency(env, r))
      throw Error(std::string("MOESCOPE_WEIGHTS='") + env + "' is not one of auto, mapped, resident");
    if (r != WeightResidency::Auto) return r;
  }
  return auto_residency(checkpoint_bytes, mem_available_bytes());
}

}  // namespace moescope
