// Expert load: counts, fractions, entropy, max/mean and CV against hand-worked values.
#include <gtest/gtest.h>

#include <cmath>

#include "probes/metrics/distributions.h"
#include "probes/metrics/load.h"
#include "tests/probes/synthetic_run.h"

using namespace moescope;
using namespace moescope::metrics;

TEST(Load, StatsOfKnownCounts) {
  // counts 6,2,0,0 (E = 4): fractions .75,.25,0,0; H = -(.75 ln .75 + .25 ln .25) = 0.5623351446...
  const LoadStats s = load_stats({6, 2, 0, 0});
  EXPECT_EQ(s.total, 8);
  EXPECT_DOUBLE_EQ(s.fractions[0], 0.75);
  EXPECT_DOUBLE_EQ(s.fractions[1], 0.25);
  EXPECT_NEAR(s.entropy_nats, 0.5623351446188083, 1e-12);
  EXPECT_NEAR(s.entropy_normalised, 0.5623351446188083 / std::log(4.0), 1e-12);
  EXPECT_DOUBLE_EQ(s.max_over_mean, 3.0);  // mean 2
  // population std: deviations 4,0,-2,-2 -> var (16+0+4+4)/4 = 6 -> cv = sqrt(6)/2
  EXPECT_NEAR(s.cv, std::sqrt(6.0) / 2.0, 1e-12);
}

TEST(Load, EvenAndEmpty) {
  const LoadStats even = load_stats({3, 3, 3});
  EXPECT_NEAR(even.entropy_normalised, 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(even.max_over_mean, 1.0);
  EXPECT_DOUBLE_EQ(even.cv, 0.0);
  const LoadStats empty = load_stats({0, 0});
  EXPECT_EQ(empty.total, 0);
  EXPECT_EQ(empty.entropy_nats, 0.0);
  EXPECT_EQ(empty.max_over_mean, 0.0);
}

TEST(Load, CountsFromRun) {
  // 3 tokens, 2 layers, E = 3, k = 2; token 2 picks only one expert at layer 1.
  RunData r = test::make_run(3, 2, {{{0, 1}, {2, 0}}, {{0, 2}, {2, 1}}, {{1, 0}, {2}}});
  EXPECT_EQ(expert_counts(r, 0), (std::vector<int64_t>{3, 2, 1}));
  EXPECT_EQ(expert_counts(r, 1), (std::vector<int64_t>{1, 1, 3}));
  LoadOptions top1;
  top1.top1_only = true;
  EXPECT_EQ(expert_counts(r, 0, top1), (std::vector<int64_t>{2, 1, 0}));
  LoadOptions range;
  range.begin = 1;
  range.end = 2;
  EXPECT_EQ(expert_counts(r, 0, range), (std::vector<int64_t>{1, 0, 1}));
  r.dropped[size_t(0 * 2 + 0)] = 1;  // token 0 dropped at layer 0: skipped unless asked
  EXPECT_EQ(expert_counts(r, 0), (std::vector<int64_t>{2, 1, 1}));
  LoadOptions incl;
  incl.include_dropped = true;
  EXPECT_EQ(expert_counts(r, 0, incl), (std::vector<int64_t>{3, 2, 1}));
  const auto all = expert_load(r);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].counts, (std::vector<int64_t>{1, 1, 3}));
}

TEST(Distributions, JsDivergence) {
  // disjoint supports: JS = ln 2; identical: 0
  EXPECT_NEAR(js_divergence({1, 0}, {0, 1}), std::log(2.0), 1e-12);
  EXPECT_NEAR(js_divergence({0.3, 0.7}, {0.3, 0.7}), 0.0, 1e-15);
  // p = (1/2, 1/2), q = (1, 0): m = (3/4, 1/4);
  // JS = 1/2 [ 1/2 ln(2/3) + 1/2 ln 2 ] + 1/2 [ ln(4/3) ]
  const double want = 0.5 * (0.5 * std::log((0.5) / 0.75) + 0.5 * std::log(0.5 / 0.25)) + 0.5 * std::log(1.0 / 0.75);
  EXPECT_NEAR(js_divergence({0.5, 0.5}, {1, 0}), want, 1e-12);
}
