// Sampler: greedy argmax, reproducibility per seed, and the sampled distribution after temperature,
// top-k and top-p compared with probabilities computed here from the logits.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/session/sampler.h"
#include "engine/util/error.h"

using namespace moescope;

namespace {

std::vector<double> frequencies(Sampler& s, const std::vector<float>& logits, int draws) {
  std::vector<double> f(logits.size(), 0.0);
  for (int i = 0; i < draws; ++i) f[size_t(s.sample(logits.data(), int(logits.size())))] += 1.0 / draws;
  return f;
}

const std::vector<float> kLogits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};

TEST(Sampler, GreedyIsArgmaxWithLowerIndexOnTies) {
  Sampler s;  // greedy by default
  const std::vector<float> v = {0.1f, 2.0f, -3.0f, 2.0f};
  EXPECT_EQ(s.sample(v.data(), 4), 1);
  EXPECT_EQ(Sampler::argmax(v.data(), 4), 1);
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferentTokens) {
  SamplingParams p;
  p.greedy = false;
  p.seed = 42;
  const std::vector<float> flat(50, 0.0f);
  Sampler a(p), b(p);
  std::vector<int> ra, rb;
  for (int i = 0; i < 64; ++i) {
    ra.push_back(a.sample(flat.data(), 50));
    rb.push_back(b.sample(flat.data(), 50));
  }
  EXPECT_EQ(ra, rb);
  p.seed = 43;
  Sampler c(p);
  std::vector<int> rc;
  for (int i = 0; i < 64; ++i) rc.push_back(c.sample(flat.data(), 50));
  EXPECT_NE(ra, rc);
  a.reseed();  // back to the start of the stream
  std::vector<int> again;
  for (int i = 0; i < 64; ++i) again.push_back(a.sample(flat.data(), 50));
  EXPECT_EQ(ra, again);
}

TEST(Sampler, DrawsFollowTheSoftmax) {
  SamplingParams p;
  p.greedy = false;
  p.seed = 1;
  Sampler s(p);
  const auto f = frequencies(s, kLogits, 40000);
  EXPECT_NEAR(f[0], 0.5, 0.015);
  EXPECT_NEAR(f[1], 0.3, 0.015);
  EXPECT_NEAR(f[2], 0.2, 0.015);
}

TEST(Sampler, TemperatureFlattens) {
  SamplingParams p;
  p.greedy = false;
  p.temperature = 2.0f;
  p.seed = 2;
  Sampler s(p);
  const auto f = frequencies(s, kLogits, 40000);
  const double z = std::sqrt(0.5) + std::sqrt(0.3) + std::sqrt(0.2);
  EXPECT_NEAR(f[0], std::sqrt(0.5) / z, 0.015);
  EXPECT_NEAR(f[2], std::sqrt(0.2) / z, 0.015);
}

TEST(Sampler, TopKKeepsTheKBest) {
  SamplingParams p;
  p.greedy = false;
  p.top_k = 2;
  p.seed = 3;
  Sampler s(p);
  const auto f = frequencies(s, kLogits, 40000);
  EXPECT_EQ(f[2], 0.0);
  EXPECT_NEAR(f[0], 0.5 / 0.8, 0.015);
  p.top_k = 1;
  p.temperature = 5.0f;
  s.set_params(p);
  const auto g = frequencies(s, kLogits, 200);
  EXPECT_NEAR(g[0], 1.0, 1e-9);
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingP) {
  SamplingParams p;
  p.greedy = false;
  p.top_p = 0.6f;  // 0.5 < 0.6 <= 0.8: tokens 0 and 1
  p.seed = 4;
  Sampler s(p);
  const auto f = frequencies(s, kLogits, 40000);
  EXPECT_EQ(f[2], 0.0);
  EXPECT_NEAR(f[0], 0.5 / 0.8, 0.015);
  p.top_p = 0.4f;  // the best token alone reaches it
  s.set_params(p);
  EXPECT_NEAR(frequencies(s, kLogits, 200)[0], 1.0, 1e-9);
}

TEST(Sampler, RejectsBadParameters) {
  SamplingParams p;
  p.greedy = false;
  p.temperature = 0.0f;
  EXPECT_THROW(Sampler{p}, Error);
  p.temperature = 1.0f;
  p.top_p = 0.0f;
  EXPECT_THROW(Sampler{p}, Error);
  p.top_p = 1.5f;
  EXPECT_THROW(Sampler{p}, Error);
  p.top_p = 1.0f;
  p.top_k = -1;
  EXPECT_THROW(Sampler{p}, Error);
}

}  // namespace
