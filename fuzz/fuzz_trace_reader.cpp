// libFuzzer target: opening an HDF5 trace and reading every run. Must succeed or throw moescope::Error.
// HDF5's own error stack printing is turned off (it would flood the fuzzer's output). It reads without the
// reader's child-process guard (read_trace_unprobed), so crashes in our code are findings, not Errors;
// crashes inside HDF5 1.10 itself show up too (see tests/fixtures/corrupt/README.md).
#include <hdf5.h>

#include "engine/util/error.h"
#include "fuzz/fuzz_support.h"
#include "probes/trace/trace_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr), true);
  (void)quiet;
  const std::string path = moescope::fuzz::write_file("trace.h5", data, size);
  try {
    for (const moescope::RunData& run : moescope::read_trace_unprobed(path)) {
      volatile size_t n = run.token_ids.size() + run.experts.size() + run.router_logits.size();
      (void)n;
    }
  } catch (const moescope::Error&) {
  }
  return 0;
}
