// TraceWriter: recorder on the engine thread, HDF5 on a background thread (see trace_writer.h).
#include "probes/trace/trace_writer.h"

#include <algorithm>
#include <chrono>

#include "engine/model/model_config.h"
#include "engine/util/error.h"

namespace moescope {

TraceWriter::TraceWriter(const std::string& path, TraceWriterOptions opt) : m_path(path), m_opt(opt) {
  if (m_opt.max_queued == 0) m_opt.max_queued = 1;
  m_recorder.set_record_logits(m_opt.record_logits && m_opt.keep_logits);
  m_file = TraceFile::create(path);  // on the caller's thread: a bad path fails here, not later
  m_thread = std::thread([this] { thread_main(); });
}

TraceWriter::~TraceWriter() {
  // Destroyed mid-run (an exception unwound the caller): keep what was recorded, but say the run did
  // not finish (complete = 0).
  try {
    if (m_in_run) {
      send_dirty_rows();
      Item it;
      it.kind = Item::End;
      it.next_token = m_recorder.data().next_token;
      it.complete = false;
      push(std::move(it));
      m_in_run = false;
    }
    close();
  } catch (...) {
  }
}

void TraceWriter::begin_run(RunData meta, const ModelConfig* config) {
  if (m_in_run) end_run();
  m_recorder.set_record_logits(m_opt.record_logits && m_opt.keep_logits);
  m_recorder.begin(std::move(meta), config);
  m_vocab = m_opt.record_logits && config ? config->vocab_size : 0;
  m_logits_stash.clear();
  m_logits_segments.clear();
  m_in_run = true;
  m_dirty_from = 0;
  m_steps_sent = 0;
  Item it;
  it.kind = Item::Begin;
  it.block = m_recorder.data();  // attributes and shapes, no rows yet
  push(std::move(it));
}

RunData TraceWriter::end_run() {
  if (!m_in_run) return RunData();
  send_dirty_rows();
  Item it;
  it.kind = Item::End;
  it.next_token = m_recorder.data().next_token;
  push(std::move(it));
  m_in_run = false;
  RunData out = m_recorder.take();
  out.complete = true;
  return out;
}

void TraceWriter::post(std::function<void(TraceFile&)> task) {
  Item it;
  it.kind = Item::Task;
  it.task = std::move(task);
  push(std::move(it));
}

void TraceWriter::close() {
  if (!m_thread.joinable()) {
    check_error();
    return;
  }
  if (m_in_run) end_run();
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_closing = true;
  }
  m_cv.notify_all();
  m_thread.join();
  check_error();
}

void TraceWriter::check_error() {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (!m_error.empty()) throw Error(m_path + ": " + m_error);
}

void TraceWriter::push(Item item) {
  std::unique_lock<std::mutex> lock(m_mutex);
  m_space.wait(lock, [&] { return m_queue.size() < m_opt.max_queued || !m_error.empty(); });
  if (!m_error.empty()) return;  // the writer failed; on_step reports it
  m_queue.push_back(std::move(item));
  lock.unlock();
  m_cv.notify_one();
}

// Copies rows [a, b) of v (row width w) into out, reusing out's capacity.
template <typename T>
static void copy_rows(std::vector<T>& out, const std::vector<T>& v, size_t a, size_t b, size_t w) {
  out.assign(v.begin() + ptrdiff_t(std::min(a * w, v.size())), v.begin() + ptrdiff_t(std::min(b * w, v.size())));
}

void TraceWriter::send_dirty_rows() {
  const RunData& d = m_recorder.data();
  const int n = d.num_tokens(), s = d.num_steps();
  if (m_dirty_from >= n && m_steps_sent >= s && m_logits_segments.empty()) return;
  Item it;
  it.kind = Item::Rows;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_free.empty()) {
      it.block = std::move(m_free.back());
      m_free.pop_back();
    }
  }
  RunData& b = it.block;
  b.num_experts = d.num_experts;
  b.k_max = d.k_max;
  b.vocab_size = m_opt.keep_logits ? d.vocab_size : m_vocab;
  b.moe_layers = d.moe_layers;
  const size_t a = size_t(std::min(m_dirty_from, n)), e = size_t(n), M = d.moe_layers.size();
  copy_rows(b.token_ids, d.token_ids, a, e, 1);
  copy_rows(b.token_text, d.token_text, a, e, 1);
  copy_rows(b.is_prompt, d.is_prompt, a, e, 1);
  copy_rows(b.router_logits, d.router_logits, a, e, M * size_t(d.num_experts));
  copy_rows(b.experts, d.experts, a, e, M * size_t(d.k_max));
  copy_rows(b.weights, d.weights, a, e, M * size_t(d.k_max));
  copy_rows(b.dropped, d.dropped, a, e, M);
  if (d.has_next_logits()) {
    copy_rows(b.next_logits, d.next_logits, a, e, size_t(d.vocab_size));
  } else {
    b.next_logits.swap(m_logits_stash);  // the block's old buffer becomes the next stash
    m_logits_stash.clear();
    it.logit_rows.swap(m_logits_segments);
    m_logits_segments.clear();
  }
  const size_t s0 = size_t(std::min(m_steps_sent, s));
  copy_rows(b.step_ns, d.step_ns, s0, size_t(s), 1);
  copy_rows(b.step_tokens, d.step_tokens, s0, size_t(s), 1);
  copy_rows(b.step_prefill, d.step_prefill, s0, size_t(s), 1);
  copy_rows(b.step_first_position, d.step_first_position, s0, size_t(s), 1);
  it.first_position = int(a);
  it.first_step = int(s0);
  m_dirty_from = n;
  m_steps_sent = s;
  push(std::move(it));
}

void TraceWriter::on_routing(const RoutingBatch& batch) {
  m_recorder.on_routing(batch);
  if (batch.positions)
    for (int t = 0; t < batch.tokens; ++t) m_dirty_from = std::min(m_dirty_from, batch.positions[t]);
}

void TraceWriter::on_logits(int first_position, int rows, int vocab, const float* logits) {
  if (m_opt.keep_logits) {
    m_recorder.on_logits(first_position, rows, vocab, logits);
    m_dirty_from = std::min(m_dirty_from, first_position);
    return;
  }
  if (!m_opt.record_logits || rows <= 0 || vocab <= 0 || !logits) return;
  if (m_vocab == 0) m_vocab = vocab;
  if (vocab != m_vocab) return;  // V is fixed per run
  m_logits_stash.insert(m_logits_stash.end(), logits, logits + size_t(rows) * size_t(vocab));
  m_logits_segments.emplace_back(first_position, rows);
}

void TraceWriter::on_step(const StepInfo& step) {
  m_recorder.on_step(step);
  m_dirty_from = std::min(m_dirty_from, step.first_position);
  send_dirty_rows();
  check_error();
}

void TraceWriter::on_rewind(int position) {
  m_recorder.on_rewind(position);
  m_logits_stash.clear();  // (empty in practice: sessions rewind between steps, after on_step)
  m_logits_segments.clear();
  const RunData& d = m_recorder.data();
  m_dirty_from = std::min(m_dirty_from, d.num_tokens());
  m_steps_sent = std::min(m_steps_sent, d.num_steps());
  Item it;
  it.kind = Item::Rewind;
  it.tokens = d.num_tokens();
  it.steps = d.num_steps();
  push(std::move(it));
}

void TraceWriter::process(Item& it) {
  auto open_stream = [&](const RunData& shapes) {
    RunData meta = std::move(m_pending_meta);
    meta.num_experts = shapes.num_experts;
    meta.k_max = shapes.k_max;
    meta.moe_layers = shapes.moe_layers;
    meta.vocab_size = shapes.vocab_size;
    m_stream = m_file->begin_run(meta, m_opt.record_logits && meta.vocab_size > 0);
    m_pending_begin = false;
  };
  switch (it.kind) {
    case Item::Begin:
      m_stream.reset();
      m_pending_meta = std::move(it.block);
      m_pending_begin = true;
      break;
    case Item::Rows:
      if (m_pending_begin) open_stream(it.block);
      if (m_stream) {
        m_stream->write_tokens(it.block, it.first_position);
        size_t offset = 0;
        for (auto [first, rows] : it.logit_rows) {
          m_stream->write_next_logits(first, rows, it.block.vocab_size, it.block.next_logits.data() + offset);
          offset += size_t(rows) * size_t(it.block.vocab_size);
        }
        m_stream->write_steps(it.block, it.first_step);
      }
      break;
    case Item::Rewind:
      if (m_stream) m_stream->truncate(it.tokens, it.steps);
      break;
    case Item::End:
      if (m_pending_begin) {
        RunData shapes = m_pending_meta;
        open_stream(shapes);
      }
      if (m_stream) m_stream->finish(it.next_token, it.complete);
      m_stream.reset();
      break;
    case Item::Task:
      if (it.task) it.task(*m_file);
      break;
  }
}

// Appends `b`'s rows to `a` when they continue it exactly (same shapes, next positions and steps), so
// a batch of decode steps becomes one HDF5 write per dataset instead of one per step.
template <typename T>
static void append(std::vector<T>& a, const std::vector<T>& b) {
  a.insert(a.end(), b.begin(), b.end());
}
static bool merge_rows(RunData& a, int a_first, int a_step, std::vector<std::pair<int, int>>& a_logits,
                       const RunData& b, int b_first, int b_step, const std::vector<std::pair<int, int>>& b_logits) {
  if (a.num_experts != b.num_experts || a.k_max != b.k_max || a.vocab_size != b.vocab_size ||
      a.moe_layers.size() != b.moe_layers.size())
    return false;
  if (b_first != a_first + a.num_tokens() || b_step != a_step + a.num_steps()) return false;
  // Kept logits travel row-aligned with the tokens: both blocks must have them or neither.
  const bool a_aligned = a_logits.empty() && !a.next_logits.empty();
  const bool b_aligned = b_logits.empty() && !b.next_logits.empty();
  if (a_aligned != b_aligned) return false;
  append(a.token_ids, b.token_ids);
  append(a.token_text, b.token_text);
  append(a.is_prompt, b.is_prompt);
  append(a.router_logits, b.router_logits);
  append(a.experts, b.experts);
  append(a.weights, b.weights);
  append(a.dropped, b.dropped);
  append(a.next_logits, b.next_logits);
  append(a.step_ns, b.step_ns);
  append(a.step_tokens, b.step_tokens);
  append(a.step_prefill, b.step_prefill);
  append(a.step_first_position, b.step_first_position);
  append(a_logits, b_logits);
  return true;
}

void TraceWriter::thread_main() {
  h5::quiet();
  using Clock = std::chrono::steady_clock;
  Clock::time_point last_flush{};
  std::deque<Item> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(m_mutex);
      m_cv.wait(lock, [&] { return !m_queue.empty() || m_closing; });
      if (m_queue.empty()) break;  // closing and drained
      // At most one flush per kMinFlushInterval: a fast decode (hundreds of steps/s) is flushed in
      // batches, a slow one step by step. A filling queue or close() cuts the wait short.
      const auto due = last_flush + kMinFlushInterval;
      m_cv.wait_until(lock, due, [&] { return m_closing || m_queue.size() * 2 >= m_opt.max_queued; });
      batch.swap(m_queue);
    }
    bool failed;
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      failed = !m_error.empty();
    }
    if (!failed) {
      try {
        uint64_t bytes = 0;  // what this batch writes, roughly (HDF5 adds chunk and metadata overhead)
        for (const Item& it : batch) {
          if (it.kind != Item::Rows) continue;
          const RunData& b = it.block;
          bytes += 8 * b.token_ids.size() + b.is_prompt.size() + 4 * b.router_logits.size() +
                   4 * b.experts.size() + 4 * b.weights.size() + b.dropped.size() + 4 * b.next_logits.size() +
                   17 * b.step_ns.size();
          for (const auto& t : b.token_text) bytes += t.size() + 16;
        }
        m_file->ensure_space(bytes);
        for (size_t i = 0; i < batch.size(); ++i) {
          Item& it = batch[i];
          while (it.kind == Item::Rows && i + 1 < batch.size() && batch[i + 1].kind == Item::Rows &&
                 merge_rows(it.block, it.first_position, it.first_step, it.logit_rows, batch[i + 1].block,
                            batch[i + 1].first_position, batch[i + 1].first_step, batch[i + 1].logit_rows)) {
            batch[i + 1].kind = Item::Task;  // merged: nothing left to do for it
            batch[i + 1].task = nullptr;
            ++i;
          }
          process(it);
        }
        m_file->flush();
        last_flush = Clock::now();
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_error.empty()) m_error = e.what();
      }
    }
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      for (Item& it : batch)
        if (it.kind == Item::Rows && m_free.size() < 8) {
          it.block.next_logits.clear();  // (capacity kept)
          m_free.push_back(std::move(it.block));
        }
    }
    batch.clear();
    m_space.notify_all();
  }
  try {
    m_stream.reset();
    m_file->close();
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_error.empty()) m_error = e.what();
  }
  m_file.reset();
}

}  // namespace moescope
