// A fixed pool of worker threads for data-parallel loops (matvec rows, attention heads, experts).
// parallel_for() never allocates: the body is passed as a function pointer + context, and the
// calling thread works alongside the workers, so a pool of N threads uses N cores in total.
// Decoding issues many small jobs back to back, so workers spin briefly for the next job before
// sleeping on a condition variable (a futex wake-up costs more than a small matvec).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace moescope {

class ThreadPool {
 public:
  // threads <= 0: one per hardware thread. The calling thread counts as one of them.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return m_size; }

  // Run body(begin, end, thread_index) over [0, n) in chunks of at least `grain` items.
  // thread_index is in [0, size()) and unique among concurrently running chunks, so callers can
  // give each thread its own scratch slice. Runs inline when the work is too small to split.
  template <class F>
  void parallel_for(int64_t n, int64_t grain, F&& body) {
    auto thunk = [](void* ctx, int64_t b, int64_t e, int t) { (*static_cast<F*>(ctx))(b, e, t); };
    run(n, grain, thunk, &body, false);
  }

  // body(i, thread_index) for every i in [0, n), handed out one at a time: for few items of very uneven
  // cost (a prefill's experts), where chunks of several would leave a thread idle at the end.
  template <class F>
  void parallel_for_each(int64_t n, F&& body) {
    auto thunk = [](void* ctx, int64_t b, int64_t e, int t) {
      for (int64_t i = b; i < e; ++i) (*static_cast<F*>(ctx))(i, t);
    };
    run(n, 1, thunk, &body, true);
  }

 private:
  using Fn = void (*)(void*, int64_t, int64_t, int);
  void run(int64_t n, int64_t grain, Fn fn, void* ctx, bool one_at_a_time);
  void worker(int index);
  void work_chunks(int thread_index);

  int m_size = 1;
  std::vector<std::thread> m_threads;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::condition_variable m_done;
  // Current job: written before m_generation is bumped (release), read after workers see the bump.
  Fn m_fn = nullptr;
  void* m_ctx = nullptr;
  int64_t m_n = 0;
  int64_t m_chunk = 1;
  std::atomic<int64_t> m_next{0};
  // The caller waits only for workers that joined the job, never for one that has not woken up yet: on a
  // busy machine a descheduled worker would otherwise stall every job by a scheduler time slice (decode on
  // 2 threads fell from ~4000 to ~30 tok/s next to a compiler). A worker joins by bumping m_entered and
  // then checking m_open; the caller closes the job once every chunk is claimed, then waits for
  // m_entered == 0 (both sequentially consistent, so one of the two sees the other).
  std::atomic<int> m_entered{0};
  std::atomic<bool> m_open{false};
  std::atomic<uint64_t> m_generation{0};  // bumps per job so workers see each job once
  std::atomic<bool> m_stop{false};
  std::mutex m_run_mutex;                 // one job at a time (nested calls run inline)
};

}  // namespace moescope
