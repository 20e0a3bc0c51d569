// TraceWriter: the ProbeSink that streams runs into an HDF5 trace while the engine runs. The engine
// thread records into a RunRecorder (so data() is the live run) and, at each step, queues the rows that
// changed; a background thread appends them to chunked datasets and calls H5Fflush after each batch (each
// step, or every kMinFlushInterval when steps come faster), so a process killed mid-run (even by SIGKILL)
// leaves a file that opens with every flushed step. The queue is bounded: when
// the disk falls behind, on_step waits instead of growing memory.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "probes/recorder/run_recorder.h"
#include "probes/trace/trace_file.h"

namespace moescope {

// Rows are flushed at most this often (every step when steps are slower).
constexpr std::chrono::milliseconds kMinFlushInterval{5};

struct TraceWriterOptions {
  bool record_logits = false;   // ask the engine for next-token logits and write /runs/<name>/logits
  // Keep the logits in data() / end_run() too ([N, V] floats: large for big vocabularies). When false
  // they only pass through to the file.
  bool keep_logits = true;
  size_t max_queued = 256;      // queued steps before on_step blocks
};

class TraceWriter : public ProbeSink {
 public:
  // Creates (truncates) `path`; Error when it cannot.
  explicit TraceWriter(const std::string& path, TraceWriterOptions opt = {});
  ~TraceWriter() override;  // close(), errors swallowed; a run still open is marked complete = 0

  // Start a run (/runs/<meta.name>); shapes from config when given, else from the first routing batch.
  void begin_run(RunData meta, const ModelConfig* config = nullptr);
  void set_prompt_length(int n) { m_recorder.set_prompt_length(n); }
  void set_decoder(RunRecorder::TokenDecoder d) { m_recorder.set_decoder(std::move(d)); }
  void set_live(LiveSnapshot* live) { m_recorder.set_live(live); }
  void reserve(int tokens, int steps) { m_recorder.reserve(tokens, steps); }
  // Finish the current run: remaining rows, attrs complete=1 and next_token. Returns the run's data.
  RunData end_run();
  const RunData& data() const { return m_recorder.data(); }

  // Run `task` on the writer thread, in order with the queued rows (extra groups, e.g. /comparison).
  void post(std::function<void(TraceFile&)> task);
  // Drain the queue, close the file; rethrows the first error of the writer thread.
  void close();
  const std::string& path() const { return m_path; }

  // ProbeSink
  void on_routing(const RoutingBatch& batch) override;
  void on_logits(int first_position, int rows, int vocab, const float* logits) override;
  void on_step(const StepInfo& step) override;
  void on_rewind(int position) override;
  bool wants_all_logits() const override { return m_opt.record_logits; }

 private:
  struct Item {
    enum Kind { Begin, Rows, Rewind, End, Task } kind = Rows;
    RunData block;            // Begin: metadata; Rows: token rows + step entries
    int first_position = 0;
    int first_step = 0;
    int tokens = 0, steps = 0;  // Rewind
    int64_t next_token = -1;    // End
    bool complete = true;       // End
    std::vector<std::pair<int, int>> logit_rows;  // Rows without keep_logits: (first, rows) in block.next_logits
    std::function<void(TraceFile&)> task;
  };
  void push(Item item);
  void send_dirty_rows();
  void thread_main();
  void process(Item& item);
  void check_error();

  std::string m_path;
  TraceWriterOptions m_opt;
  RunRecorder m_recorder;
  bool m_in_run = false;
  int m_dirty_from = 0;     // first token row changed since the last queued block
  int m_steps_sent = 0;
  int m_vocab = 0;                                   // V when logits bypass the recorder
  std::vector<float> m_logits_stash;                 // logits not yet queued (keep_logits = false)
  std::vector<std::pair<int, int>> m_logits_segments;

  // writer thread state (touched only by the thread after construction)
  std::unique_ptr<TraceFile> m_file;
  std::unique_ptr<TraceRunStream> m_stream;
  RunData m_pending_meta;   // stream is created with the first rows (shapes known by then)
  bool m_pending_begin = false;

  std::mutex m_mutex;
  std::condition_variable m_cv;       // items queued / closing
  std::condition_variable m_space;    // room in the queue / drained
  std::deque<Item> m_queue;
  std::vector<RunData> m_free;        // recycled blocks (keep their capacity)
  bool m_busy = false;
  bool m_closing = false;
  std::string m_error;
  std::thread m_thread;
};

}  // namespace moescope
