// TraceFile: an HDF5 trace being written (format in docs/trace-format.md). Root attributes are written
// at creation; runs are added whole (write_run) or grown step by step (begin_run -> TraceRunStream, used
// by TraceWriter's background thread). Extra groups/datasets/attrs (e.g. compare's /comparison) go
// through group() and the helpers in h5_util.h. Not thread-safe: one thread uses a TraceFile.
#pragma once
#include <memory>
#include <string>

#include "probes/run_data.h"
#include "probes/trace/h5_util.h"

namespace moescope {

constexpr const char* kTraceFormat = "moescope-trace";
constexpr int kTraceVersion = 1;

// The datasets of one run, grown along N (tokens) and S (steps).
class TraceRunStream {
 public:
  // Creates /runs/<meta.name> with meta's attributes and empty datasets shaped by meta's M, E, K (and V
  // when with_logits). Error when the run exists.
  TraceRunStream(hid_t file, const RunData& meta, bool with_logits);

  // Writes block's token rows at positions [first_position, first_position + block.num_tokens()). The
  // block has the run's M and E; a wider block K grows the K dimension (older rows read -1 / 0).
  void write_tokens(const RunData& block, int first_position);
  // Next-token logits rows [first, first + rows) (vocab must be the run's V; ignored without logits).
  void write_next_logits(int first, int rows, int vocab, const float* data);
  // Writes block's step entries at [first_step, first_step + block.num_steps()).
  void write_steps(const RunData& block, int first_step);
  void truncate(int tokens, int steps);  // rewind
  // Final attributes: next_token, complete.
  void finish(int64_t next_token, bool complete);
  int tokens() const { return int(m_ids.rows()); }
  int steps() const { return int(m_step_ns.rows()); }

 private:
  h5::Id m_group;
  int m_m = 0, m_e = 0, m_k = 0, m_v = 0;
  bool m_logits = false;
  h5::GrowableDataset m_ids, m_text, m_is_prompt, m_router_logits, m_experts, m_weights, m_dropped, m_next_logits;
  h5::GrowableDataset m_step_ns, m_step_tokens, m_step_prefill, m_step_first;
};

class TraceFile {
 public:
  // Creates (truncates) `path` and writes the root attributes.
  static std::unique_ptr<TraceFile> create(const std::string& path);
  ~TraceFile();

  const std::string& path() const { return m_path; }
  hid_t id() const { return m_file.get(); }
  // A complete run, in one go (compare, export round trips).
  void write_run(const RunData& run);
  std::unique_ptr<TraceRunStream> begin_run(const RunData& meta, bool with_logits);
  // Open or create a group (e.g. "comparison") for extra content.
  h5::Id group(const std::string& path);
  void flush();
  void close();
  // Before `bytes` more are written: when the file system (or RLIMIT_FSIZE) has less than twice that
  // plus 256 KiB left, the file is given up as it was at the last flush (HDF5 never writes to it again,
  // so what was flushed stays readable) and Error "<path>: disk full ..." is thrown. A write that fails
  // half way through an HDF5 flush would leave links to objects that were never written.
  void ensure_space(uint64_t bytes);

 private:
  explicit TraceFile(std::string path) : m_path(std::move(path)) {}
  void abandon();
  std::string m_path;
  h5::Id m_file;
};

// Writes /runs/<name> attributes from meta (all string attrs, extras, shapes).
void write_run_attrs(hid_t run_group, const RunData& meta);

}  // namespace moescope
