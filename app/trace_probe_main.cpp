// `moescope-trace-probe PATH`: reads every run of an HDF5 trace and exits 0 (readable), 1 (a clean Error)
// or dies by a signal (HDF5 1.10 itself crashed on a corrupt file). TraceReader runs it as a fresh process
// before reading a file in-process, so such a crash or hang can never take the caller down (see
// probes/trace/trace_reader.cpp). Not meant to be run by hand; it prints the error for debugging.
#include <hdf5.h>

#include <cstdio>
#include <exception>
#include <string>

#include "probes/trace/trace_reader.h"

namespace moescope {
std::vector<RunData> read_trace_unprobed(const std::string& path);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: moescope-trace-probe TRACE.h5\n");
    return 2;
  }
  H5dont_atexit();
  try {
    (void)moescope::read_trace_unprobed(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
