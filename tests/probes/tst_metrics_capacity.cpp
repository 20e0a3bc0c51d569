// Capacity gap: capacity = ceil(CF*T*k/E), overflow per expert, dropped tokens in arrival order.
#include <gtest/gtest.h>

#include "probes/metrics/capacity.h"
#include "tests/probes/synthetic_run.h"

using namespace moescope;
using namespace moescope::metrics;

TEST(Capacity, Formula) {
  EXPECT_EQ(capacity_for(1.0, 8, 2, 4), 4);     // 8*2/4 = 4
  EXPECT_EQ(capacity_for(1.25, 8, 2, 4), 5);    // exactly 5, not 6
  EXPECT_EQ(capacity_for(1.0, 7, 2, 4), 4);     // 3.5 -> 4
  EXPECT_EQ(capacity_for(0.5, 3, 1, 4), 1);     // 0.375 -> 1
  EXPECT_EQ(capacity_for(1.1, 10, 1, 1), 11);
}

TEST(Capacity, TopOneSwitchStyle) {
  // 6 tokens, E = 3, k = 1, CF = 1 -> capacity 2. Experts by position: 0,0,0,1,0,2.
  // Expert 0 gets 4 (overflow 2: the 3rd and 5th tokens, positions 2 and 4).
  RunData r = test::make_run(3, 1, {{{0}}, {{0}}, {{0}}, {{1}}, {{0}}, {{2}}});
  const CapacityGap g = capacity_gap(r, 0, {1.0});
  EXPECT_EQ(g.capacity, 2);
  EXPECT_EQ(g.demand, (std::vector<int64_t>{4, 1, 1}));
  EXPECT_EQ(g.overflow, (std::vector<int64_t>{2, 0, 0}));
  EXPECT_EQ(g.dropped_assignments, 2);
  EXPECT_EQ(g.tokens_with_drop, 2);
  EXPECT_EQ(g.tokens_fully_dropped, 2);
  EXPECT_DOUBLE_EQ(g.dropped_token_fraction, 2.0 / 6.0);
  EXPECT_EQ(g.dropped_positions, (std::vector<int32_t>{2, 4}));
}

TEST(Capacity, TopTwoArrivalOrders) {
  // 4 tokens, E = 4, k = 2, CF = 0.5 -> capacity ceil(0.5*4*2/4) = 1.
  // t0: [0,1]  t1: [1,0]  t2: [0,2]  t3: [3,0]
  RunData r = test::make_run(4, 2, {{{0, 1}}, {{1, 0}}, {{0, 2}}, {{3, 0}}});
  CapacityOptions opt;
  opt.capacity_factor = 0.5;
  const CapacityGap tm = capacity_gap(r, 0, opt);
  EXPECT_EQ(tm.capacity, 1);
  EXPECT_EQ(tm.demand, (std::vector<int64_t>{4, 2, 1, 1}));
  EXPECT_EQ(tm.overflow, (std::vector<int64_t>{3, 1, 0, 0}));
  // token-major: t0 keeps 0 and 1; t1 loses 1 and 0 (fully); t2 loses 0 keeps 2; t3 keeps 3 loses 0.
  EXPECT_EQ(tm.tokens_with_drop, 3);
  EXPECT_EQ(tm.tokens_fully_dropped, 1);
  EXPECT_EQ(tm.dropped_positions, (std::vector<int32_t>{1, 2, 3}));
  // rank-major (GShard): first choices 0,1,0,3 -> t2's 0 overflows; second choices 1,0,2,0 -> t0's 1 is
  // rejected (1 full from t1), t1's 0 rejected, t2's 2 kept, t3's 0 rejected. t0 keeps 0; t1 keeps 1;
  // t2 keeps 2; t3 keeps 3: every token loses exactly one expert, none fully.
  opt.order = ArrivalOrder::RankMajor;
  const CapacityGap rm = capacity_gap(r, 0, opt);
  EXPECT_EQ(rm.overflow, tm.overflow);
  EXPECT_EQ(rm.tokens_with_drop, 4);
  EXPECT_EQ(rm.tokens_fully_dropped, 0);
  EXPECT_EQ(rm.dropped_positions, (std::vector<int32_t>{0, 1, 2, 3}));
}

TEST(Capacity, GenerousCapacityDropsNothing) {
  RunData r = test::make_run(2, 1, {{{0}}, {{0}}, {{0}}});
  const CapacityGap g = capacity_gap(r, 0, {2.0});  // ceil(2*3*1/2) = 3
  EXPECT_EQ(g.capacity, 3);
  EXPECT_EQ(g.dropped_assignments, 0);
  EXPECT_TRUE(g.dropped_positions.empty());
  EXPECT_EQ(g.dropped_token_fraction, 0.0);
}
