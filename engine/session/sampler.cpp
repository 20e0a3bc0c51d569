// Sampler and its xoshiro256** generator.
#include "engine/session/sampler.h"

#include <algorithm>
#include <cmath>

#include "engine/util/error.h"

namespace moescope {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

void Rng::reseed(uint64_t seed) {
  uint64_t x = seed;
  for (auto& s : m_s) s = splitmix64(x);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(m_s[1] * 5, 7) * 9;
  const uint64_t t = m_s[1] << 17;
  m_s[2] ^= m_s[0];
  m_s[3] ^= m_s[1];
  m_s[1] ^= m_s[2];
  m_s[0] ^= m_s[3];
  m_s[2] ^= t;
  m_s[3] = rotl(m_s[3], 45);
  return result;
}

double Rng::uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }

Sampler::Sampler(const SamplingParams& p) { set_params(p); }

void Sampler::set_params(const SamplingParams& p) {
  if (!p.greedy) {
    if (!(p.temperature > 0.0f) || !std::isfinite(p.temperature))
      throw Error("sampling: temperature must be > 0 (got " + std::to_string(p.temperature) + "); use greedy instead");
    if (!(p.top_p > 0.0f && p.top_p <= 1.0f))
      throw Error("sampling: top-p must be in (0, 1] (got " + std::to_string(p.top_p) + ")");
    if (p.top_k < 0) throw Error("sampling: top-k must be >= 0 (got " + std::to_string(p.top_k) + ")");
  }
  m_params = p;
  m_rng.reseed(p.seed);
}

int32_t Sampler::argmax(const float* logits, int vocab) {
  int32_t best = 0;
  for (int i = 1; i < vocab; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

int32_t Sampler::sample(const float* logits, int vocab) {
  if (vocab <= 0) throw Error("sampling: empty vocabulary");
  if (m_params.greedy) return argmax(logits, vocab);
  m_cand.resize(size_t(vocab));
  const float inv_t = 1.0f / m_params.temperature;
  for (int i = 0; i < vocab; ++i) m_cand[size_t(i)] = {logits[i] * inv_t, int32_t(i)};
  auto better = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t n = size_t(vocab);
  // top-k (like TopKLogitsWarper, ties at the k-th value are kept by value: we keep exactly k)
  if (m_params.top_k > 0 && size_t(m_params.top_k) < n) {
    std::partial_sort(m_cand.begin(), m_cand.begin() + m_params.top_k, m_cand.end(), better);
    n = size_t(m_params.top_k);
  } else {
    std::sort(m_cand.begin(), m_cand.end(), better);
  }
  // softmax over the survivors (sorted best first)
  const float mx = m_cand[0].first;
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    m_cand[i].first = std::exp(m_cand[i].first - mx);
    sum += m_cand[i].first;
  }
  for (size_t i = 0; i < n; ++i) m_cand[i].first = float(m_cand[i].first / sum);
  // top-p: the smallest prefix whose mass reaches top_p (the best token always survives)
  if (m_params.top_p < 1.0f) {
    double mass = 0.0;
    size_t keep = 0;
    while (keep < n) {
      mass += m_cand[keep].first;
      ++keep;
      if (mass >= double(m_params.top_p)) break;
    }
    n = keep;
    double s = 0.0;
    for (size_t i = 0; i < n; ++i) s += m_cand[i].first;
    for (size_t i = 0; i < n; ++i) m_cand[i].first = float(m_cand[i].first / s);
  }
  const double u = m_rng.uniform();
  double acc = 0.0;
  for (size_t i = 0; i < n; ++i) {
    acc += m_cand[i].first;
    if (u < acc) return m_cand[i].second;
  }
  return m_cand[n - 1].second;
}

}  // namespace moescope
