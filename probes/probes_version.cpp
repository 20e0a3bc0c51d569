// Version string of the probes library (also written into trace files).
#include <string>
namespace moescope::probes {
std::string version() { return MOESCOPE_VERSION; }
}  // namespace moescope::probes
