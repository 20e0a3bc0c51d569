// ThreadPool: every item of every job runs exactly once, with more threads than cores, with jobs of every
// size, nested calls and job state that lives on the caller's stack (a worker that wakes up late must
// not touch a finished job: AddressSanitizer, in CI, would catch a read of the dead frame).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <thread>
#include <vector>

#include "engine/util/thread_pool.h"

using moescope::ThreadPool;

namespace {

// One job: marks each item; the marks live in this call's frame only.
void run_and_check(ThreadPool& pool, int64_t n, int64_t grain, int job) {
  std::vector<std::atomic<int>> hits(size_t(n > 0 ? n : 0));
  std::vector<int> per_thread(size_t(pool.size()), 0);
  std::atomic<bool> index_clash{false};
  std::vector<std::atomic<int>> busy(size_t(pool.size()));
  pool.parallel_for(n, grain, [&](int64_t b, int64_t e, int t) {
    ASSERT_GE(t, 0);
    ASSERT_LT(t, pool.size());
    if (busy[size_t(t)].fetch_add(1) != 0) index_clash = true;  // two chunks at once with one index
    for (int64_t i = b; i < e; ++i) hits[size_t(i)].fetch_add(1);
    per_thread[size_t(t)] += int(e - b);
    busy[size_t(t)].fetch_sub(1);
  });
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "job " << job << " item " << i << " of " << n;
  EXPECT_FALSE(index_clash.load()) << "job " << job;
  EXPECT_EQ(std::accumulate(per_thread.begin(), per_thread.end(), int64_t(0)), n);
}

}  // namespace

TEST(ThreadPool, EveryItemOnceAcrossManySmallAndLargeJobs) {
  ThreadPool pool(4);
  for (int job = 0; job < 3000; ++job) {
    const int64_t n = (job * 7919) % 257;  // 0 .. 256, including empty and single-item jobs
    run_and_check(pool, n, 1 + job % 5, job);
  }
}

TEST(ThreadPool, OversubscribedPoolStaysCorrect) {
  // Many more threads than this machine's cores: workers are often descheduled when a job starts, so
  // the caller finishes most jobs alone and late workers must leave the next job's state alone.
  const int threads = int(4 * std::max(1u, std::thread::hardware_concurrency()));
  ThreadPool pool(threads);
  for (int job = 0; job < 2000; ++job) run_and_check(pool, 1 + job % 97, 1, job);
}

TEST(ThreadPool, NestedCallsRunInline) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(64 * 16);
  pool.parallel_for(64, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i)
      pool.parallel_for(16, 1, [&](int64_t b2, int64_t e2, int) {
        for (int64_t j = b2; j < e2; ++j) hits[size_t(i * 16 + j)].fetch_add(1);
      });
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

TEST(ThreadPool, ConcurrentCallersAreSerialised) {
  ThreadPool pool(3);
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int c = 0; c < 3; ++c)
    callers.emplace_back([&, c] {
      for (int job = 0; job < 300; ++job) {
        const int64_t n = 1 + (job + c) % 50;
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        pool.parallel_for(n, 1, [&](int64_t b, int64_t e, int) {
          for (int64_t i = b; i < e; ++i) hits[size_t(i)].fetch_add(1);
        });
        for (auto& h : hits) failures += h.load() != 1;
      }
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ThreadPool, DestroyedRightAfterAJob) {
  for (int i = 0; i < 200; ++i) {
    ThreadPool pool(3);
    run_and_check(pool, 33, 1, i);
  }
}

// parallel_for_each hands out one item at a time: every item once, thread indices unique among running
// items, and a slow item does not hold back the others (they go to the other threads meanwhile).
TEST(ThreadPool, ForEachRunsEveryItemOnceOneAtATime) {
  ThreadPool pool(3);
  for (int job = 0; job < 500; ++job) {
    const int64_t n = job % 23;
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    std::vector<std::atomic<int>> busy(static_cast<size_t>(pool.size()));
    std::atomic<bool> clash{false};
    pool.parallel_for_each(n, [&](int64_t i, int t) {
      ASSERT_GE(t, 0);
      ASSERT_LT(t, pool.size());
      if (busy[size_t(t)].fetch_add(1) != 0) clash = true;
      hits[size_t(i)].fetch_add(1);
      busy[size_t(t)].fetch_sub(1);
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "job " << job << " item " << i;
    EXPECT_FALSE(clash.load());
  }
  // Item 0 waits (up to 10 s) until every other item has run: with chunks of several items, the thread
  // holding item 0 would hold some of the others too and they could not run meanwhile.
  const int64_t n = 40;
  std::atomic<int> done{0};
  bool saw_all = false;
  pool.parallel_for_each(n, [&](int64_t i, int) {
    if (i == 0) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (done.load() < n - 1 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
      saw_all = done.load() == n - 1;
    } else {
      done.fetch_add(1);
    }
  });
  EXPECT_TRUE(saw_all);
}
