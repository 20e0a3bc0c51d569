// ThreadPool: workers sleep on a condition variable between jobs; a job's items are claimed in
// chunks through one atomic counter, so uneven chunks balance themselves.
#include "engine/util/thread_pool.h"

#include <algorithm>

namespace moescope {

namespace {
thread_local bool t_inside_job = false;  // nested parallel_for calls run inline
}

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  m_size = threads;
  m_threads.reserve(size_t(threads - 1));
  for (int i = 1; i < threads; ++i) m_threads.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stop = true;
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
    {
      std::unique_lock<std::mutex> lock(m_mutex);
      m_wake.wait(lock, [&] { return m_stop || m_generation != seen; });
      if (m_stop) return;
      seen = m_generation;
    }
    t_inside_job = true;
    work_chunks(index);
    t_inside_job = false;
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      if (--m_pending == 0) m_done.notify_one();
    }
  }
}

void ThreadPool::run(int64_t n, int64_t grain, Fn fn, void* ctx) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (m_size == 1 || n <= grain || t_inside_job) {
    fn(ctx, 0, n, 0);
    return;
  }
  std::lock_guard<std::mutex> run_lock(m_run_mutex);
  // About four chunks per thread balances uneven rows without much counter traffic.
  const int64_t chunk = std::max(grain, (n + int64_t(m_size) * 4 - 1) / (int64_t(m_size) * 4));
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_fn = fn;
    m_ctx = ctx;
    m_n = n;
    m_chunk = chunk;
    m_next.store(0, std::memory_order_relaxed);
    m_pending = int(m_threads.size());
    ++m_generation;
  }
  m_wake.notify_all();
  t_inside_job = true;
  work_chunks(0);
  t_inside_job = false;
  std::unique_lock<std::mutex> lock(m_mutex);
  m_done.wait(lock, [&] { return m_pending == 0; });
}

}  // namespace moescope
