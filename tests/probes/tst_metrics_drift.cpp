// Drift: layer transition matrices, conditional entropy, window JS divergence, token-id consistency.
#include <gtest/gtest.h>

#include <cmath>

#include "probes/metrics/drift.h"
#include "tests/probes/synthetic_run.h"

using namespace moescope;
using namespace moescope::metrics;

TEST(Drift, TransitionMatrices) {
  // E = 3, k = 2, 3 MoE layers, 2 tokens.
  RunData r = test::make_run(3, 2, {
      {{0, 1}, {2, 0}, {1, 2}},
      {{0, 2}, {2, 1}, {0, 1}},
  });
  // top-1 between layer 0 and 1: (0->2) twice
  std::vector<int64_t> want1(9, 0);
  want1[0 * 3 + 2] = 2;
  EXPECT_EQ(transition_matrix(r, 0, true), want1);
  // all-k: token 0 pairs {0,1}x{2,0}: (0,2)(0,0)(1,2)(1,0); token 1 {0,2}x{2,1}: (0,2)(0,1)(2,2)(2,1)
  std::vector<int64_t> wantk(9, 0);
  for (auto [a, b] : std::vector<std::pair<int, int>>{{0, 2}, {0, 0}, {1, 2}, {1, 0}, {0, 2}, {0, 1}, {2, 2}, {2, 1}})
    ++wantk[size_t(a * 3 + b)];
  EXPECT_EQ(transition_matrix(r, 0, false), wantk);
  // top-1 layer 1 -> 2: (2->1), (2->0): H(B|A) = ln 2 (A is always 2, B uniform over 2 values)
  const auto tr = layer_transitions(r, true);
  ASSERT_EQ(tr.size(), 2u);
  EXPECT_NEAR(tr[1].conditional_entropy, std::log(2.0), 1e-12);
  EXPECT_NEAR(tr[0].conditional_entropy, 0.0, 1e-12);  // deterministic 0 -> 2
}

TEST(Drift, ConditionalEntropyByHand) {
  // joint counts over E = 2: [[2, 2], [0, 4]]: p(a=0) = 1/2 with B uniform (H = ln 2), p(a=1) = 1/2 with
  // B fixed (H = 0): H(B|A) = 1/2 ln 2.
  EXPECT_NEAR(conditional_entropy({2, 2, 0, 4}, 2), 0.5 * std::log(2.0), 1e-12);
  EXPECT_EQ(conditional_entropy({0, 0, 0, 0}, 2), 0.0);
}

TEST(Drift, WindowJsDivergence) {
  // E = 2, k = 1, 5 tokens, window 2: windows [0,0] and [1,1] (token 4 ignored) -> JS = ln 2.
  RunData r = test::make_run(2, 1, {{{0}}, {{0}}, {{1}}, {{1}}, {{0}}});
  const auto js = window_drift(r, 2);
  ASSERT_EQ(js.size(), 1u);
  ASSERT_EQ(js[0].size(), 1u);
  EXPECT_NEAR(js[0][0], std::log(2.0), 1e-12);
  // window 1: successive tokens 0,0,1,1,0 -> JS 0, ln2, 0, ln2
  const auto js1 = window_drift(r, 1);
  ASSERT_EQ(js1[0].size(), 4u);
  EXPECT_NEAR(js1[0][0], 0.0, 1e-12);
  EXPECT_NEAR(js1[0][1], std::log(2.0), 1e-12);
  EXPECT_NEAR(js1[0][3], std::log(2.0), 1e-12);
}

TEST(Drift, TokenConsistency) {
  // ids: 7 appears 3x (top-1 experts 1,1,0), 8 appears 2x (2,2), 9 once (ignored).
  RunData r = test::make_run(3, 2, {{{1, 0}}, {{2, 0}}, {{1, 2}}, {{9 % 3, 1}}, {{0, 1}}, {{2, 1}}},
                             {7, 8, 7, 9, 7, 8});
  const TokenConsistency c = token_consistency(r, 0);
  EXPECT_EQ(c.token_ids, 2);
  EXPECT_EQ(c.occurrences, 5);
  EXPECT_NEAR(c.weighted, (2.0 + 2.0) / 5.0, 1e-12);
  EXPECT_NEAR(c.mean_over_ids, (2.0 / 3.0 + 1.0) / 2.0, 1e-12);
}
