// TraceReader: opens an HDF5 trace without a model and returns its runs as RunData. Checks the format
// and version attributes first (clear errors for foreign files and newer versions) and the dataset
// shapes before reading, so a corrupt or truncated file gives moescope::Error, never a crash. A file
// left by a killed writer reads as the prefix every dataset has (RunData::complete = false).
#pragma once
#include <string>
#include <vector>

#include "probes/run_data.h"
#include "probes/trace/h5_util.h"

namespace moescope {

struct TraceInfo {
  std::string path;
  int version = 0;
  std::string created;
  std::string engine_version;
  std::vector<std::string> runs;  // names under /runs, numeric names in numeric order
};

class TraceReader {
 public:
  // Throws Error. HDF5 1.10 itself can crash on some corrupted object headers, which no check from
  // outside the library can see; so a new reader first reads the whole file in a child process (the
  // moescope-trace-probe helper, or a fork when it is not installed), and a child that dies or hangs
  // becomes an Error here instead of a crash of the caller (the GUI, the CLI).
  explicit TraceReader(const std::string& path) : TraceReader(path, true) {}
  const TraceInfo& info() const { return m_info; }
  RunData read_run(const std::string& name) const;
  std::vector<RunData> read_all() const;
  hid_t file() const { return m_file.get(); }  // for extra groups such as /comparison

 private:
  friend std::vector<RunData> read_trace_unprobed(const std::string& path);
  TraceReader(const std::string& path, bool probe_in_child);
  std::string m_path;
  h5::Id m_file;
  TraceInfo m_info;
};

// Convenience: every run of a trace.
std::vector<RunData> read_trace(const std::string& path);
// The same without the crash guard (used by the guard's child itself, and by fuzzers that want to see
// HDF5's crashes).
std::vector<RunData> read_trace_unprobed(const std::string& path);

}  // namespace moescope
