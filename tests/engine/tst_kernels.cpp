// CPU kernels against straightforward double-precision references: linear over F32/BF16/F16 weights
// (SIMD and scalar paths, ragged sizes), RMSNorm, both RoPE layouts, softmax, the thread pool, and
// the native router rules on hand-made logits.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/cpu/kernels.h"
#include "engine/model/model_config.h"
#include "engine/routing/strategy.h"
#include "engine/util/half.h"
#include "engine/util/thread_pool.h"

using namespace moescope;

namespace {

struct Matrix {
  std::vector<uint8_t> bytes;
  std::vector<double> exact;  // the value each stored element represents
  TensorRef ref;
};

Matrix make_matrix(DType dt, int rows, int cols, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 0.5f);
  Matrix m;
  const size_t n = size_t(rows) * cols;
  m.bytes.resize(n * dtype_size(dt));
  m.exact.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float v = nd(rng);
    if (dt == DType::F32) {
      std::memcpy(m.bytes.data() + 4 * i, &v, 4);
      m.exact[i] = v;
    } else if (dt == DType::BF16) {
      uint32_t u;
      std::memcpy(&u, &v, 4);
      const uint16_t h = uint16_t(u >> 16);  // truncation: the exact value is what we store
      std::memcpy(m.bytes.data() + 2 * i, &h, 2);
      const uint32_t back = uint32_t(h) << 16;
      float f;
      std::memcpy(&f, &back, 4);
      m.exact[i] = f;
    } else {
      const uint16_t h = f32_to_fp16(v);
      std::memcpy(m.bytes.data() + 2 * i, &h, 2);
      // decode fp16 independently: sign, 5-bit exponent, 10-bit mantissa
      const int e = (h >> 10) & 0x1f, mant = h & 0x3ff;
      double val = e == 0 ? std::ldexp(double(mant), -24) : std::ldexp(1.0 + mant / 1024.0, e - 15);
      m.exact[i] = (h & 0x8000) ? -val : val;
    }
  }
  m.ref.name = "test.weight";
  m.ref.dtype = dt;
  m.ref.shape = {rows, cols};
  m.ref.data = reinterpret_cast<const std::byte*>(m.bytes.data());
  m.ref.nbytes = m.bytes.size();
  return m;
}

TensorRef f32_vector(const std::vector<float>& v, const char* name = "vec") {
  TensorRef r;
  r.name = name;
  r.dtype = DType::F32;
  r.shape = {int64_t(v.size())};
  r.data = reinterpret_cast<const std::byte*>(v.data());
  r.nbytes = v.size() * 4;
  return r;
}

class LinearTest : public ::testing::TestWithParam<std::tuple<DType, bool>> {};

TEST_P(LinearTest, MatchesDoubleReference) {
  const auto [dt, simd] = GetParam();
  cpu::set_simd_enabled(simd);
  ThreadPool pool(2);
  std::mt19937 rng(7);
  for (int K : {1, 7, 8, 31, 64, 100}) {
    for (int T : {1, 3, 4, 5, 9}) {
      const int N = 37;
      Matrix W = make_matrix(dt, N, K, rng);
      std::vector<float> bias(N);
      std::normal_distribution<float> nd(0.0f, 1.0f);
      for (auto& b : bias) b = nd(rng);
      const TensorRef bref = f32_vector(bias, "test.bias");
      const int ldx = K + 3, ldy = N + 2;  // strides wider than the rows
      std::vector<float> x(size_t(T) * ldx);
      for (auto& v : x) v = nd(rng);
      std::vector<float> y(size_t(T) * ldy, -999.0f);
      cpu::linear(pool, x.data(), ldx, T, W.ref, &bref, y.data(), ldy);
      for (int t = 0; t < T; ++t)
        for (int n = 0; n < N; ++n) {
          double ref = bias[n];
          for (int k = 0; k < K; ++k) ref += double(x[size_t(t) * ldx + k]) * W.exact[size_t(n) * K + k];
          ASSERT_NEAR(y[size_t(t) * ldy + n], ref, 1e-4 * (1.0 + std::sqrt(double(K))))
              << "dtype " << dtype_name(dt) << " K=" << K << " T=" << T << " t=" << t << " n=" << n;
        }
      // padding columns of y are untouched
      for (int t = 0; t < T; ++t) ASSERT_EQ(y[size_t(t) * ldy + N], -999.0f);
    }
  }
  cpu::set_simd_enabled(true);
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, LinearTest,
                         ::testing::Combine(::testing::Values(DType::F32, DType::BF16, DType::F16),
                                            ::testing::Values(false, true)));

TEST(Kernels, LinearMultiEqualsSeparateLinears) {
  ThreadPool pool(2);
  std::mt19937 rng(3);
  Matrix a = make_matrix(DType::F32, 10, 16, rng), b = make_matrix(DType::BF16, 6, 16, rng);
  std::vector<float> x(3 * 16);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 7) - 3.0f;
  std::vector<float> ya(30), yb(18), ra(30), rb(18);
  const cpu::LinearJob jobs[2] = {{&a.ref, nullptr, ya.data(), 10}, {&b.ref, nullptr, yb.data(), 6}};
  cpu::linear_multi(pool, x.data(), 16, 3, jobs, 2);
  cpu::linear(pool, x.data(), 16, 3, a.ref, nullptr, ra.data(), 10);
  cpu::linear(pool, x.data(), 16, 3, b.ref, nullptr, rb.data(), 6);
  EXPECT_EQ(ya, ra);
  EXPECT_EQ(yb, rb);
}

TEST(Kernels, RmsNorm) {
  std::vector<float> x = {1.0f, -2.0f, 3.0f, 0.5f}, w = {1.0f, 0.5f, 2.0f, -1.0f}, y(4);
  cpu::rmsnorm(x.data(), f32_vector(w), 4, 1e-5f, y.data());
  const double ms = (1 + 4 + 9 + 0.25) / 4.0;
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], w[i] * x[i] / std::sqrt(ms + 1e-5), 1e-6);
  // in place, no weight
  cpu::rmsnorm(x.data(), TensorRef{}, 4, 0.0f, x.data());
  EXPECT_NEAR(x[2], 3.0 / std::sqrt(ms), 1e-6);
}

TEST(Kernels, SoftmaxSumsToOneAndKeepsRatios) {
  std::vector<float> v = {1000.0f, 999.0f, 998.0f};  // large values: needs the max shift
  cpu::softmax(v.data(), 3);
  EXPECT_NEAR(v[0] + v[1] + v[2], 1.0, 1e-6);
  EXPECT_NEAR(v[0] / v[1], std::exp(1.0), 1e-4);
  EXPECT_NEAR(v[1] / v[2], std::exp(1.0), 1e-4);
}

TEST(Kernels, RopeRotateHalfRotatesPairsIAndIPlusHalf) {
  const int dim = 8, half = 4;
  std::vector<float> v(dim), cs(half), sn(half);
  for (int i = 0; i < dim; ++i) v[i] = float(i + 1);
  const double angle[4] = {0.3, -1.1, 2.0, 0.01};
  for (int i = 0; i < half; ++i) {
    cs[i] = float(std::cos(angle[i]));
    sn[i] = float(std::sin(angle[i]));
  }
  std::vector<float> orig = v;
  cpu::rope_rotate_half(v.data(), dim, cs.data(), sn.data());
  for (int i = 0; i < half; ++i) {
    // (a + ib) * e^{i angle}
    const double a = orig[i], b = orig[i + half];
    EXPECT_NEAR(v[i], a * std::cos(angle[i]) - b * std::sin(angle[i]), 1e-5);
    EXPECT_NEAR(v[i + half], b * std::cos(angle[i]) + a * std::sin(angle[i]), 1e-5);
  }
}

TEST(Kernels, RopeInterleavedRotatesAdjacentPairsIntoHalves) {
  const int dim = 6, half = 3;
  std::vector<float> v = {1, 2, 3, 4, 5, 6}, cs(half), sn(half), tmp(dim);
  const double angle[3] = {0.5, 1.5, -0.7};
  for (int i = 0; i < half; ++i) {
    cs[i] = float(std::cos(angle[i]));
    sn[i] = float(std::sin(angle[i]));
  }
  std::vector<float> orig = v;
  cpu::rope_interleaved(v.data(), dim, cs.data(), sn.data(), tmp.data());
  for (int i = 0; i < half; ++i) {
    const double a = orig[2 * i], b = orig[2 * i + 1];
    EXPECT_NEAR(v[i], a * std::cos(angle[i]) - b * std::sin(angle[i]), 1e-5);
    EXPECT_NEAR(v[i + half], b * std::cos(angle[i]) + a * std::sin(angle[i]), 1e-5);
  }
}

TEST(ThreadPool, CoversEveryIndexOnceAndNestsInline) {
  ThreadPool pool(3);
  for (int64_t n : {1, 2, 17, 1000, 100000}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    pool.parallel_for(n, 1, [&](int64_t b, int64_t e, int thread) {
      ASSERT_GE(thread, 0);
      ASSERT_LT(thread, pool.size());
      for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
      // a nested loop runs inline on the same thread
      int inner = 0;
      pool.parallel_for(4, 1, [&](int64_t ib, int64_t ie, int) { inner += int(ie - ib); });
      ASSERT_EQ(inner, 4);
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "n=" << n << " i=" << i;
  }
}

TEST(ThreadPool, ManyBackToBackJobsWithIdleGaps) {
  // Exercises the hand-over between spinning and sleeping workers: no job may be lost or run twice.
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  for (int job = 0; job < 3000; ++job) {
    pool.parallel_for(64, 1, [&](int64_t b, int64_t e, int) { total += e - b; });
    if (job % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  EXPECT_EQ(total.load(), 3000 * 64);
}

// ---- native router rules on hand-made logits ---------------------------------------------------

RoutingDecision route(const ModelConfig& cfg, const std::vector<float>& logits, const TensorRef* bias = nullptr) {
  RouterInput in;
  in.config = &cfg;
  in.num_experts = cfg.num_experts;
  in.tokens = int(logits.size()) / cfg.num_experts;
  in.logits = logits.data();
  in.correction_bias = bias;
  RoutingDecision d;
  route_native(in, d);
  return d;
}

TEST(RouteNative, MixtralSoftmaxTopKAlwaysRenormalised) {
  ModelConfig cfg;
  cfg.family = Family::Mixtral;
  cfg.num_experts = 4;
  cfg.num_experts_per_tok = 2;
  cfg.norm_topk_prob = false;  // Mixtral renormalises regardless
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.0f};
  const auto d = route(cfg, logits);
  ASSERT_EQ(d.k_max, 2);
  EXPECT_EQ(d.experts[0], 1);
  EXPECT_EQ(d.experts[1], 3);
  const double p1 = std::exp(2.0), p3 = std::exp(1.0);
  EXPECT_NEAR(d.weights[0], p1 / (p1 + p3), 1e-6);
  EXPECT_NEAR(d.weights[1], p3 / (p1 + p3), 1e-6);
}

TEST(RouteNative, OlmoeWithoutNormKeepsSoftmaxProbabilitiesAndTiesPreferLowerIndex) {
  ModelConfig cfg;
  cfg.family = Family::OLMoE;
  cfg.num_experts = 4;
  cfg.num_experts_per_tok = 2;
  const std::vector<float> logits = {0.5f, 1.0f, 1.0f, 1.0f};
  const auto d = route(cfg, logits);
  EXPECT_EQ(d.experts[0], 1);
  EXPECT_EQ(d.experts[1], 2);
  const double z = std::exp(0.5) + 3 * std::exp(1.0);
  EXPECT_NEAR(d.weights[0], std::exp(1.0) / z, 1e-6);
}

TEST(RouteNative, DeepSeekGroupLimitedSigmoidWithCorrectionBias) {
  ModelConfig cfg;
  cfg.family = Family::DeepSeekV3;
  cfg.scoring = RouterScoring::SigmoidGroupTopK;
  cfg.num_experts = 8;
  cfg.num_experts_per_tok = 2;
  cfg.n_group = 2;
  cfg.topk_group = 1;
  cfg.norm_topk_prob = true;
  cfg.routed_scaling_factor = 2.5f;
  // group 0 = experts 0..3, group 1 = experts 4..7. Without bias, expert 0 is the single best, but
  // group 1 has the better top-2 sum, so only group 1 may be chosen.
  const std::vector<float> logits = {3.0f, -3.0f, -3.0f, -3.0f, 1.0f, 1.5f, 0.0f, -1.0f};
  std::vector<float> bias = {0, 0, 0, 0, 0, 0, 0.8f, 0};  // lifts expert 6 above expert 4 for selection
  const TensorRef bref = f32_vector(bias);
  const auto d = route(cfg, logits, &bref);
  std::vector<int> got = {d.experts[0], d.experts[1]};
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{5, 6}));
  auto sig = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  const double s5 = sig(1.5), s6 = sig(0.0);  // weights use the uncorrected sigmoid
  for (int j = 0; j < 2; ++j) {
    const double s = d.experts[j] == 5 ? s5 : s6;
    EXPECT_NEAR(d.weights[j], s / (s5 + s6) * 2.5, 1e-6);
  }
}

TEST(RouteNative, DeepSeekMaskedGroupsScoreZeroNotMinusInfinity) {
  // As transformers' masked_fill(..., 0.0): when kept-group scores are pushed below zero by the
  // correction bias, an expert of a dropped group (score 0.0) can still be picked.
  ModelConfig cfg;
  cfg.family = Family::DeepSeekV3;
  cfg.scoring = RouterScoring::SigmoidGroupTopK;
  cfg.num_experts = 4;
  cfg.num_experts_per_tok = 2;
  cfg.n_group = 2;
  cfg.topk_group = 1;
  cfg.norm_topk_prob = false;
  cfg.routed_scaling_factor = 1.0f;
  const std::vector<float> logits = {0.0f, 0.0f, -5.0f, -5.0f};
  std::vector<float> bias = {-0.4f, -0.6f, -1.0f, -1.0f};
  // corrected: g0 = {0.1, -0.1}, g1 ~ {-0.993, -0.993}; g0 kept; masked -> {0.1, -0.1, 0, 0}
  const TensorRef bref = f32_vector(bias);
  const auto d = route(cfg, logits, &bref);
  std::vector<int> got = {d.experts[0], d.experts[1]};
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{0, 2}));  // expert 2: masked to 0.0 > -0.1, lower index than 3
}

TEST(RouteNative, GptOssTopKOnLogitsThenSoftmaxOverK) {
  ModelConfig cfg;
  cfg.family = Family::GptOss;
  cfg.scoring = RouterScoring::TopKSoftmax;
  cfg.num_experts = 5;
  cfg.num_experts_per_tok = 2;
  const std::vector<float> logits = {0.0f, 3.0f, 1.0f, 2.0f, -1.0f};
  const auto d = route(cfg, logits);
  EXPECT_EQ(d.experts[0], 1);
  EXPECT_EQ(d.experts[1], 3);
  EXPECT_NEAR(d.weights[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(d.weights[0] + d.weights[1], 1.0, 1e-6);
}

}  // namespace
