// ThreadPool: workers spin briefly, then sleep on a condition variable between jobs; a job's items
// are claimed in chunks through one atomic counter, so uneven chunks balance themselves.
#include "engine/util/thread_pool.h"

#include <algorithm>

// Yield rather than pause: on an oversubscribed machine a pure spin would hold the core that the
// thread it waits for needs.
#define MS_CPU_RELAX() std::this_thread::yield()

namespace moescope {

namespace {
thread_local bool t_inside_job = false;  // nested parallel_for calls run inline
constexpr int kSpinIterations = 2000;  // yielding polls: ~0.5 ms when idle, fair when the CPU is busy
}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  m_size = threads;
  m_threads.reserve(size_t(threads - 1));
  for (int i = 1; i < threads; ++i) m_threads.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stop.store(true);
  }
  m_wake.notify_all();
  for (auto& t : m_threads) t.join();
}

void ThreadPool::work_chunks(int thread_index) {
  for (;;) {
    const int64_t begin = m_next.fetch_add(m_chunk, std::memory_order_relaxed);
    if (begin >= m_n) break;
    const int64_t end = std::min(m_n, begin + m_chunk);
    m_fn(m_ctx, begin, end, thread_index);
  }
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    bool got = false;
    for (int i = 0; i < kSpinIterations; ++i) {
      if (m_generation.load(std::memory_order_acquire) != seen || m_stop.load(std::memory_order_relaxed)) {
        got = true;
        break;
      }
      MS_CPU_RELAX();
    }
    if (!got) {
      std::unique_lock<std::mutex> lock(m_mutex);
      m_wake.wait(lock, [&] { return m_stop.load() || m_generation.load(std::memory_order_acquire) != seen; });
    }
    if (m_stop.load()) return;
    seen = m_generation.load(std::memory_order_acquire);
    m_entered.fetch_add(1);
    // Still the job we saw, and not closed? Otherwise the caller may already have returned: touch nothing.
    if (m_open.load() && m_generation.load(std::memory_order_acquire) == seen) {
      t_inside_job = true;
      work_chunks(index);
      t_inside_job = false;
    }
    if (m_entered.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_done.notify_one();
    }
  }
}

void ThreadPool::run(int64_t n, int64_t grain, Fn fn, void* ctx, bool one_at_a_time) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (m_size == 1 || n <= grain || t_inside_job) {
    fn(ctx, 0, n, 0);
    return;
  }
  std::lock_guard<std::mutex> run_lock(m_run_mutex);
  // About four chunks per thread balances uneven rows without much counter traffic.
  const int64_t chunk = one_at_a_time ? 1 : std::max(grain, (n + int64_t(m_size) * 4 - 1) / (int64_t(m_size) * 4));
  m_fn = fn;
  m_ctx = ctx;
  m_n = n;
  m_chunk = chunk;
  m_next.store(0, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(m_mutex);  // pairs with the sleepers' predicate check
    m_open.store(true);
    m_generation.fetch_add(1, std::memory_order_release);
  }
  m_wake.notify_all();
  t_inside_job = true;
  work_chunks(0);
  t_inside_job = false;
  // Every chunk is claimed: close the job, then wait for the workers inside it to finish theirs.
  m_open.store(false);
  for (int i = 0; i < kSpinIterations; ++i) {
    if (m_entered.load() == 0) return;
    MS_CPU_RELAX();
  }
  std::unique_lock<std::mutex> lock(m_mutex);
  m_done.wait(lock, [&] { return m_entered.load() == 0; });
}

}  // namespace moescope
