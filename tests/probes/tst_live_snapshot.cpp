// LiveSnapshot: coalesces offers to one per interval, publishes immutable copies, thread-safe pulls.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "probes/live/live_snapshot.h"

using namespace moescope;
using namespace std::chrono_literals;

TEST(LiveSnapshot, CoalescesToInterval) {
  LiveSnapshot live(40ms);
  EXPECT_EQ(live.latest(), nullptr);
  EXPECT_EQ(live.generation(), 0u);
  RunData d;
  const auto t0 = LiveSnapshot::Clock::time_point() + 1h;
  d.token_ids = {1};
  EXPECT_TRUE(live.offer_at(d, t0));          // first offer always publishes
  d.token_ids = {1, 2};
  EXPECT_FALSE(live.offer_at(d, t0 + 10ms));  // within 40 ms: coalesced
  EXPECT_FALSE(live.offer_at(d, t0 + 39ms));
  EXPECT_EQ(live.latest()->token_ids.size(), 1u);
  d.token_ids = {1, 2, 3};
  EXPECT_TRUE(live.offer_at(d, t0 + 40ms));
  EXPECT_EQ(live.latest()->token_ids.size(), 3u);
  EXPECT_TRUE(live.offer_at(d, t0 + 41ms, /*force=*/true));
  EXPECT_EQ(live.generation(), 3u);
  // 1000 offers over one simulated second publish at most 25 (+1 for the first) times
  LiveSnapshot live2(40ms);
  int published = 0;
  for (int i = 0; i < 1000; ++i) published += live2.offer_at(d, t0 + std::chrono::milliseconds(i));
  EXPECT_GE(published, 24);
  EXPECT_LE(published, 26);
  live.clear();
  EXPECT_EQ(live.latest(), nullptr);
}

TEST(LiveSnapshot, SnapshotsAreIndependentCopies) {
  LiveSnapshot live(0ms);
  RunData d;
  d.token_ids = {5};
  live.offer(d);
  RunSnapshot s = live.latest();
  d.token_ids.push_back(6);
  EXPECT_EQ(s->token_ids, std::vector<int64_t>{5});
}

TEST(LiveSnapshot, ConcurrentReaderSeesConsistentSnapshots) {
  LiveSnapshot live(0ms);
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!stop) {
      if (RunSnapshot s = live.latest())
        for (size_t i = 0; i < s->token_ids.size(); ++i)
          if (s->token_ids[i] != int64_t(i)) ++bad;
    }
  });
  RunData d;
  for (int i = 0; i < 2000; ++i) {
    d.token_ids.push_back(i);
    live.offer(d);
  }
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(live.latest()->token_ids.size(), 2000u);
}
