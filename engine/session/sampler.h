// Next-token sampling: greedy argmax, or temperature -> top-k -> top-p -> draw, in the order
// transformers' logits warpers apply them. Reproducible: its own xoshiro256** generator, seeded
// from SamplingParams::seed, so the same seed gives the same tokens on every platform.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace moescope {

struct SamplingParams {
  bool greedy = true;
  float temperature = 1.0f;  // > 0; ignored when greedy
  int top_k = 0;             // 0 = off
  float top_p = 1.0f;        // 1 = off
  uint64_t seed = 0;
};

// xoshiro256** seeded through splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }
  void reseed(uint64_t seed);
  uint64_t next();
  double uniform();  // [0, 1) with 53 random bits
 private:
  uint64_t m_s[4] = {0, 0, 0, 0};
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p = {});
  // Throws Error on invalid parameters (temperature <= 0 when sampling, top_p outside (0,1], top_k < 0).
  void set_params(const SamplingParams& p);
  const SamplingParams& params() const { return m_params; }
  void reseed() { m_rng.reseed(m_params.seed); }
  // Picks a token from `vocab` logits. Greedy: the first index of the maximum. No allocation once the
  // scratch has grown to the vocabulary size.
  int32_t sample(const float* logits, int vocab);

  static int32_t argmax(const float* logits, int vocab);

 private:
  SamplingParams m_params;
  Rng m_rng;
  std::vector<std::pair<float, int32_t>> m_cand;
};

}  // namespace moescope
