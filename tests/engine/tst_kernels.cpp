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

#include "engine/cpu/backend.h"
#include "engine/cpu/kernels.h"
#include "engine/model/model.h"
#include "engine/model/model_config.h"
#include "engine/routing/strategy.h"
#include "engine/util/half.h"
#include "engine/cpu/fp8_kernels.h"
#include "engine/cpu/mxfp4_kernels.h"
#include "engine/model/fp8.h"
#include "engine/util/error.h"
#include "engine/util/thread_pool.h"
#include "tests/support/reference.h"

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

// MXFP4 rows (GPT-OSS experts): random codes and scales, against a decode written from the OCP spec here
// (sign, 2-bit exponent with bias 1, 1 mantissa bit; exponent 0 subnormal) in double precision. Token counts
// cover the row dots (1), the tiles (3..17) and, on AVX-512 machines, the broadcast kernel (40); N = 37 leaves
// a partial 16-row panel.
TEST(Kernels, Mxfp4LinearMatchesDoubleReference) {
  auto e2m1 = [](int code) {
    const int exp = (code >> 1) & 3, man = code & 1;
    const double mag = exp == 0 ? man * 0.5 : (1.0 + man * 0.5) * std::ldexp(1.0, exp - 1);
    return code & 8 ? -mag : mag;
  };
  ThreadPool pool(2);
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> byte(0, 255), scale(118, 130);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  // scalar; AVX2 (also on AVX-512 machines); AVX-512 where the CPU has it
  for (int path : {0, 1, 2}) {
    const bool simd = path > 0;
    cpu::set_simd_enabled(simd);
    if (simd && cpu::detail::set_mxfp4_avx512(path == 2) != (path == 2)) continue;  // no AVX-512 here
    for (int K : {32, 64, 96, 320}) {
      const int N = 37;
      const size_t rb = size_t(K / 2 + K / 32);
      std::vector<uint8_t> bytes(N * rb);
      std::vector<double> exact(size_t(N) * K);
      for (int n = 0; n < N; ++n) {
        uint8_t* row = bytes.data() + n * rb;
        for (int i = 0; i < K / 2; ++i) row[i] = uint8_t(byte(rng));
        for (int g = 0; g < K / 32; ++g) row[K / 2 + g] = uint8_t(scale(rng));
        for (int k = 0; k < K; ++k) {
          const int code = k % 2 ? row[k / 2] >> 4 : row[k / 2] & 15;
          exact[size_t(n) * K + k] = e2m1(code) * std::ldexp(1.0, int(row[K / 2 + k / 32]) - 127);
        }
      }
      TensorRef W;
      W.name = "test.mxfp4";
      W.dtype = DType::MXFP4;
      W.shape = {N, K};
      W.data = reinterpret_cast<const std::byte*>(bytes.data());
      W.nbytes = bytes.size();
      for (int k = 0; k < K; ++k) ASSERT_EQ(double(W.at(5 * int64_t(K) + k)), exact[size_t(5) * K + k]) << k;
      for (int T : {1, 3, 4, 9, 17, 40}) {
        const int ldx = K + 1, ldy = N + 2;
        std::vector<float> x(size_t(T) * ldx);
        for (auto& v : x) v = nd(rng);
        std::vector<float> y(size_t(T) * ldy, -999.0f);
        cpu::linear(pool, x.data(), ldx, T, W, nullptr, y.data(), ldy);
        for (int t = 0; t < T; ++t) {
          for (int n = 0; n < N; ++n) {
            double ref = 0;
            for (int k = 0; k < K; ++k) ref += double(x[size_t(t) * ldx + k]) * exact[size_t(n) * K + k];
            ASSERT_NEAR(y[size_t(t) * ldy + n], ref, 1e-4 * (1.0 + std::sqrt(double(K))))
                << "path " << path << " K=" << K << " T=" << T << " t=" << t << " n=" << n;
          }
          ASSERT_EQ(y[size_t(t) * ldy + N], -999.0f);
        }
      }
    }
  }
  cpu::set_simd_enabled(true);
  cpu::detail::set_mxfp4_avx512(true);
  TensorRef bad;
  bad.name = "odd.mxfp4";
  bad.dtype = DType::MXFP4;
  bad.shape = {2, 48};
  std::vector<uint8_t> b(2 * (24 + 1));
  bad.data = reinterpret_cast<const std::byte*>(b.data());
  EXPECT_THROW(cpu::check_matrix(bad, 2, 48), Error);
}

double e4m3(int code) { return test::e4m3_value(uint8_t(code)); }  // tests/support/reference.h

TEST(Kernels, Fp8E4m3CodesDecodeAsTheSpecSays) {
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7F) == 0x7F) {
      EXPECT_TRUE(std::isnan(fp8::e4m3_to_f32(uint8_t(c))));
      EXPECT_TRUE(fp8::e4m3_is_nan(uint8_t(c)));
      continue;
    }
    EXPECT_EQ(double(fp8::e4m3_to_f32(uint8_t(c))), e4m3(c)) << c;
  }
  EXPECT_EQ(fp8::e4m3_to_f32(0x7E), 448.0f);             // largest finite
  EXPECT_EQ(fp8::e4m3_to_f32(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(fp8::e4m3_to_f32(0x38), 1.0f);
  EXPECT_EQ(fp8::e4m3_to_f32(0xB8), -1.0f);
  EXPECT_TRUE(std::signbit(fp8::e4m3_to_f32(0x80)));
}

// FP8_B128 rows (fine-grained FP8 checkpoints): every code but NaN, random scales per 128 columns, against the
// decode above times the scale, rounded to fp32 once (the value transformers' Fp8Dequantize gives). The SIMD
// decode must give that value to the bit (it is a single rounding either way); the products go through the row
// dots (T = 1), the 4-token dots, the tiles and the broadcast kernel (40). K = 300 leaves a partial group of 44
// and a tail of 4 under the 8-wide loop.
TEST(Kernels, Fp8LinearMatchesDoubleReference) {
  ThreadPool pool(2), one(1);
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> byte(0, 253);  // 0x7F skipped below
  std::uniform_real_distribution<float> scale(1e-4f, 3e-2f);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  // scalar; AVX2 (also on AVX-512 machines); AVX-512 where the CPU has it
  for (int path : {0, 1, 2}) {
    const bool simd = path > 0;
    cpu::set_simd_enabled(simd);
    if (simd && cpu::detail::set_fp8_avx512(path == 2) != (path == 2)) continue;  // no AVX-512 here
    for (int K : {8, 13, 128, 200, 300, 4096}) {
      // 4096 columns: 64-row panels (cpu::detail::panel_rows); one thread takes all 200 rows in one call, so four
      // panels, the last one partial
      const int N = K == 4096 ? 200 : 37;
      if (K == 4096) ASSERT_EQ(cpu::detail::panel_rows(K), 64);
      const size_t rb = fp8::row_bytes(K);
      ASSERT_EQ(rb, size_t(K) + 4 * size_t((K + 127) / 128));
      ASSERT_EQ(row_bytes(DType::FP8_B128, K), rb);
      std::vector<uint8_t> bytes(N * rb);
      std::vector<double> exact(size_t(N) * K);
      for (int n = 0; n < N; ++n) {
        uint8_t* row = bytes.data() + n * rb;
        for (int k = 0; k < K; ++k) {
          int c = byte(rng);
          if (c >= 0x7F) ++c;  // 0..0x7E, 0x80..0xFE
          row[k] = uint8_t(c);
        }
        std::vector<float> sc((K + 127) / 128);
        for (auto& v : sc) v = scale(rng) * (n % 3 == 0 ? -1.0f : 1.0f);  // negative scales are allowed
        std::memcpy(row + K, sc.data(), 4 * sc.size());
        for (int k = 0; k < K; ++k) exact[size_t(n) * K + k] = double(float(e4m3(row[k]) * double(sc[size_t(k / 128)])));
      }
      TensorRef W;
      W.name = "test.fp8";
      W.dtype = DType::FP8_B128;
      W.shape = {N, K};
      W.data = reinterpret_cast<const std::byte*>(bytes.data());
      W.nbytes = bytes.size();
      for (int n : {0, 5, 36})
        for (int k = 0; k < K; ++k) ASSERT_EQ(double(W.at(n * int64_t(K) + k)), exact[size_t(n) * K + k]) << k;
      if (simd) {  // the SIMD decode gives the same fp32 weights to the bit
        std::vector<float> row(K);
        cpu::detail::decode_fp8_row_simd(bytes.data() + 5 * rb, K, row.data());
        for (int k = 0; k < K; ++k) ASSERT_EQ(double(row[size_t(k)]), exact[size_t(5) * K + k]) << k;
      }
      for (int T : {1, 3, 4, 9, 17, 40}) {
        const int ldx = K + 1, ldy = N + 2;
        std::vector<float> x(size_t(T) * ldx);
        for (auto& v : x) v = nd(rng);
        std::vector<float> y(size_t(T) * ldy, -999.0f);
        cpu::linear(K == 4096 ? one : pool, x.data(), ldx, T, W, nullptr, y.data(), ldy);
        for (int t = 0; t < T; ++t) {
          for (int n = 0; n < N; ++n) {
            double ref = 0, mag = 0;
            for (int k = 0; k < K; ++k) {
              ref += double(x[size_t(t) * ldx + k]) * exact[size_t(n) * K + k];
              mag += std::fabs(double(x[size_t(t) * ldx + k]) * exact[size_t(n) * K + k]);
            }
            ASSERT_NEAR(y[size_t(t) * ldy + n], ref, 1e-6 * mag + 1e-7)
                << "path " << path << " K=" << K << " T=" << T << " t=" << t << " n=" << n;
          }
          ASSERT_EQ(y[size_t(t) * ldy + N], -999.0f);
        }
      }
    }
  }
  cpu::set_simd_enabled(true);
  cpu::detail::set_fp8_avx512(true);
}

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

// torch.nn.LayerNorm: biased variance, eps inside the root, then weight and bias (PhiMoE's norms).
TEST(Kernels, LayerNormMatchesTheDefinition) {
  std::vector<float> x = {1.0f, -2.0f, 3.0f, 0.5f, 100.25f}, w = {1.0f, 0.5f, 2.0f, -1.0f, 0.25f},
                     b = {0.1f, -0.2f, 0.0f, 3.0f, -1.0f}, y(5);
  cpu::layernorm(x.data(), f32_vector(w), f32_vector(b), 5, 1e-5f, y.data());
  double mean = 0, var = 0;
  for (float v : x) mean += v / 5.0;
  for (float v : x) var += (v - mean) * (v - mean) / 5.0;
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(y[i], (x[i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i], 2e-6) << i;
  // in place, no weight and no bias: zero mean, unit variance
  cpu::layernorm(x.data(), TensorRef{}, TensorRef{}, 5, 0.0f, x.data());
  double m2 = 0, v2 = 0;
  for (float v : x) m2 += v / 5.0;
  for (float v : x) v2 += v * v / 5.0;
  EXPECT_NEAR(m2, 0.0, 1e-6);
  EXPECT_NEAR(v2, 1.0, 1e-5);
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

TEST(RouteNative, DeepSeekMaskedGroupsAreNeverChosen) {
  // transformers 5's DeepseekV3TopkRouter: masked_fill(..., -inf). Even when the correction bias pushes the
  // kept group's scores below zero, no expert of a dropped group is picked (transformers 4.x filled 0.0
  // and would have picked expert 2 here).
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
  // corrected: g0 = {0.1, -0.1}, g1 ~ {-0.993, -0.993}; g0 kept; masked -> {0.1, -0.1, -inf, -inf}
  const TensorRef bref = f32_vector(bias);
  const auto d = route(cfg, logits, &bref);
  EXPECT_EQ(d.experts[0], 0);
  EXPECT_EQ(d.experts[1], 1);
  EXPECT_NEAR(d.weights[0], 0.5, 1e-6);  // sigmoid(0), uncorrected
  EXPECT_NEAR(d.weights[1], 0.5, 1e-6);
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

// ---- attention features without a Hugging Face fixture -----------------------------------------
// A one-layer synthetic model with qkv/o biases, clip_qkv, partial rotary, a sliding window and
// attention sinks (GPT-OSS style: softmax over [scores, sink], sink column dropped), run through the
// CPU backend and through a plain double-precision transcription of those rules.

struct SyntheticModel {
  std::vector<std::vector<float>> store;  // owns every weight
  ModelConfig cfg;
  ModelWeights w;

  TensorRef add(const std::string& name, std::vector<int64_t> shape, std::mt19937& rng, float scale, float offset = 0) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::normal_distribution<float> nd(0.0f, scale);
    store.emplace_back(size_t(n));
    for (auto& v : store.back()) v = offset + nd(rng);
    TensorRef r;
    r.name = name;
    r.dtype = DType::F32;
    r.shape = shape;
    r.data = reinterpret_cast<const std::byte*>(store.back().data());
    r.nbytes = size_t(n) * 4;
    return r;
  }
};

// yarn: full rotary with yarn scaling (factor 4 over an original context of 16) instead of the
// partial default rotary.
std::shared_ptr<SyntheticModel> make_synthetic(int window, bool yarn = false) {
  auto m = std::make_shared<SyntheticModel>();
  m->store.reserve(64);
  std::mt19937 rng(11);
  ModelConfig& c = m->cfg;
  c.family = Family::GptOss;
  c.config_path = "synthetic";
  c.vocab_size = 10;
  c.hidden_size = 16;
  c.num_layers = 1;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 4;
  c.max_position_embeddings = 64;
  c.rope.theta = 100.0;
  c.rope.partial_rotary_factor = 0.5;
  if (yarn) {
    c.rope.theta = 10000.0;
    c.rope.partial_rotary_factor = 1.0;
    c.rope.type = "yarn";
    c.rope.factor = 4.0;
    c.rope.original_max_position = 16;
  }
  c.qkv_bias = c.o_bias = true;
  c.clip_qkv = 0.6f;
  c.sliding_window = window;
  c.attention_sinks = true;
  c.intermediate_size = 8;
  c.layer_is_moe = {false};
  ModelWeights& w = m->w;
  w.embed = m->add("embed", {10, 16}, rng, 1.0f);
  w.lm_head = m->add("lm_head", {10, 16}, rng, 0.3f);
  w.final_norm = m->add("norm", {16}, rng, 0.1f, 1.0f);
  LayerWeights L;
  L.input_norm = m->add("in_norm", {16}, rng, 0.1f, 1.0f);
  L.post_attention_norm = m->add("post_norm", {16}, rng, 0.1f, 1.0f);
  L.attn.q = m->add("q", {16, 16}, rng, 0.4f);
  L.attn.k = m->add("k", {8, 16}, rng, 0.4f);
  L.attn.v = m->add("v", {8, 16}, rng, 0.4f);
  L.attn.o = m->add("o", {16, 16}, rng, 0.3f);
  L.attn.q_bias = m->add("qb", {16}, rng, 0.1f);
  L.attn.k_bias = m->add("kb", {8}, rng, 0.1f);
  L.attn.v_bias = m->add("vb", {8}, rng, 0.1f);
  L.attn.o_bias = m->add("ob", {16}, rng, 0.1f);
  L.attn.sinks = m->add("sinks", {4}, rng, 1.0f);
  L.mlp.gate = m->add("gate", {8, 16}, rng, 0.3f);
  L.mlp.up = m->add("up", {8, 16}, rng, 0.3f);
  L.mlp.down = m->add("down", {16, 8}, rng, 0.3f);
  w.layers.push_back(L);
  return m;
}

using Vec = std::vector<double>;

Vec ref_linear(const TensorRef& W, const TensorRef* b, const Vec& x) {
  const auto wf = W.to_f32();
  Vec y(size_t(W.rows()), 0.0);
  for (int64_t n = 0; n < W.rows(); ++n) {
    for (int64_t k = 0; k < W.cols(); ++k) y[size_t(n)] += double(wf[size_t(n * W.cols() + k)]) * x[size_t(k)];
    if (b && b->valid()) y[size_t(n)] += b->at(n);
  }
  return y;
}

Vec ref_norm(const Vec& x, const TensorRef& w, double eps) {
  double ms = 0;
  for (double v : x) ms += v * v;
  ms /= double(x.size());
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] / std::sqrt(ms + eps) * w.at(int64_t(i));
  return y;
}

// Logits of every position, computed from the rules directly.
std::vector<Vec> reference_logits(const SyntheticModel& m, const std::vector<int32_t>& ids) {
  const ModelConfig& c = m.cfg;
  const LayerWeights& L = m.w.layers[0];
  const int T = int(ids.size()), hd = c.head_dim;
  const int rot = int(hd * c.rope.partial_rotary_factor);
  // inverse frequencies and cos/sin scale, transcribed from transformers' rope init functions
  std::vector<double> inv(size_t(rot / 2));
  double attention_factor = 1.0;
  for (int i = 0; i < rot / 2; ++i) inv[size_t(i)] = 1.0 / std::pow(c.rope.theta, 2.0 * i / rot);
  if (c.rope.type == "yarn") {
    const double f = c.rope.factor, orig = c.rope.original_max_position, base = c.rope.theta;
    auto corr = [&](double r) { return rot * std::log(orig / (r * 2 * M_PI)) / (2 * std::log(base)); };
    double low = std::max(std::floor(corr(c.rope.beta_fast)), 0.0);
    double high = std::min(std::ceil(corr(c.rope.beta_slow)), double(rot - 1));
    if (low == high) high += 0.001;
    for (int i = 0; i < rot / 2; ++i) {
      const double pos_freq = std::pow(base, 2.0 * i / rot);
      const double extrap_factor = 1.0 - std::clamp((i - low) / (high - low), 0.0, 1.0);
      inv[size_t(i)] = 1.0 / (f * pos_freq) * (1 - extrap_factor) + 1.0 / pos_freq * extrap_factor;
    }
    attention_factor = 0.1 * std::log(f) + 1.0;  // get_mscale(factor), mscale_all_dim unset
  }
  const size_t nT = static_cast<size_t>(T);
  std::vector<Vec> x(nT), q(nT), k(nT), v(nT);
  for (int t = 0; t < T; ++t) {
    x[size_t(t)].resize(16);
    for (int i = 0; i < 16; ++i) x[size_t(t)][size_t(i)] = m.w.embed.at(int64_t(ids[size_t(t)]) * 16 + i);
    const Vec xn = ref_norm(x[size_t(t)], L.input_norm, c.rms_norm_eps);
    q[size_t(t)] = ref_linear(L.attn.q, &L.attn.q_bias, xn);
    k[size_t(t)] = ref_linear(L.attn.k, &L.attn.k_bias, xn);
    v[size_t(t)] = ref_linear(L.attn.v, &L.attn.v_bias, xn);
    for (Vec* p : {&q[size_t(t)], &k[size_t(t)], &v[size_t(t)]})
      for (double& e : *p) e = std::clamp(e, -double(c.clip_qkv), double(c.clip_qkv));
    // rotate-half RoPE on the first `rot` dims of each head: pairs (i, i + rot/2)
    for (Vec* p : {&q[size_t(t)], &k[size_t(t)]})
      for (size_t h = 0; h < p->size() / size_t(hd); ++h)
        for (int i = 0; i < rot / 2; ++i) {
          const double ang = double(t) * inv[size_t(i)];
          const double cs = std::cos(ang) * attention_factor, sn = std::sin(ang) * attention_factor;
          double& a = (*p)[h * hd + size_t(i)];
          double& b = (*p)[h * hd + size_t(i + rot / 2)];
          const double a0 = a, b0 = b;
          a = a0 * cs - b0 * sn;
          b = b0 * cs + a0 * sn;
        }
  }
  std::vector<Vec> logits;
  for (int t = 0; t < T; ++t) {
    Vec attn(16, 0.0);
    for (int h = 0; h < 4; ++h) {
      const int kvh = h / 2;
      std::vector<double> s;
      std::vector<int> js;
      for (int j = 0; j <= t; ++j) {
        if (c.sliding_window > 0 && j <= t - c.sliding_window) continue;
        double d = 0;
        for (int i = 0; i < hd; ++i) d += q[size_t(t)][size_t(h * hd + i)] * k[size_t(j)][size_t(kvh * hd + i)];
        s.push_back(d / std::sqrt(double(hd)));
        js.push_back(j);
      }
      const double sink = L.attn.sinks.at(h);
      double mx = sink;
      for (double e : s) mx = std::max(mx, e);
      double z = std::exp(sink - mx);
      for (double e : s) z += std::exp(e - mx);
      for (size_t n = 0; n < s.size(); ++n)
        for (int i = 0; i < hd; ++i)
          attn[size_t(h * hd + i)] += std::exp(s[n] - mx) / z * v[size_t(js[n])][size_t(kvh * hd + i)];
    }
    const Vec o = ref_linear(L.attn.o, &L.attn.o_bias, attn);
    Vec h1(16);
    for (int i = 0; i < 16; ++i) h1[size_t(i)] = x[size_t(t)][size_t(i)] + o[size_t(i)];
    const Vec hn = ref_norm(h1, L.post_attention_norm, c.rms_norm_eps);
    const Vec g = ref_linear(L.mlp.gate, nullptr, hn), u = ref_linear(L.mlp.up, nullptr, hn);
    Vec act(8);
    for (int i = 0; i < 8; ++i) act[size_t(i)] = g[size_t(i)] / (1 + std::exp(-g[size_t(i)])) * u[size_t(i)];
    const Vec d = ref_linear(L.mlp.down, nullptr, act);
    for (int i = 0; i < 16; ++i) h1[size_t(i)] += d[size_t(i)];
    logits.push_back(ref_linear(m.w.lm_head, nullptr, ref_norm(h1, m.w.final_norm, c.rms_norm_eps)));
  }
  return logits;
}

TEST(AttentionFeatures, SlidingWindowSinksBiasesClipPartialRotaryYarn) {
  for (int variant = 0; variant < 3; ++variant) {
    const int window = variant == 1 ? 3 : 0;
    auto syn = make_synthetic(window, variant == 2);
    auto model = std::make_shared<Model>(syn->cfg, nullptr, syn->w, "synthetic");
    const std::vector<int32_t> ids = {1, 7, 3, 3, 9, 0, 5, 2};
    const auto want = reference_logits(*syn, ids);
    auto backend = make_cpu_backend(model, 2, 16);
    // prefill 3, then decode one by one: the window must also hold across the cache
    ForwardArgs a;
    a.tokens = ids.data();
    a.count = 3;
    a.all_logits = true;
    const float* lg = backend->forward(a);
    for (int t = 0; t < 3; ++t)
      for (int v = 0; v < 10; ++v) ASSERT_NEAR(lg[t * 10 + v], want[size_t(t)][size_t(v)], 1e-4) << "variant " << variant;
    for (int t = 3; t < int(ids.size()); ++t) {
      ForwardArgs d;
      d.tokens = ids.data() + t;
      d.count = 1;
      d.first_position = t;
      lg = backend->forward(d);
      for (int v = 0; v < 10; ++v)
        ASSERT_NEAR(lg[v], want[size_t(t)][size_t(v)], 1e-4) << "variant " << variant << " position " << t;
    }
  }
  // the window matters for these inputs (otherwise the test above would prove little)
  auto a = reference_logits(*make_synthetic(0), {1, 7, 3, 3, 9, 0, 5, 2});
  auto b = reference_logits(*make_synthetic(3), {1, 7, 3, 3, 9, 0, 5, 2});
  EXPECT_GT(std::fabs(a[7][0] - b[7][0]), 1e-3);
  auto y = reference_logits(*make_synthetic(0, true), {1, 7, 3, 3, 9, 0, 5, 2});
  EXPECT_GT(std::fabs(a[7][0] - y[7][0]), 1e-3);
}

}  // namespace

// ---- MLA without q LoRA, yarn RoPE with mscale_all_dim (DeepSeek-V2-Lite-like), synthetic -------

namespace {

std::shared_ptr<SyntheticModel> make_synthetic_mla() {
  auto m = std::make_shared<SyntheticModel>();
  m->store.reserve(64);
  std::mt19937 rng(5);
  ModelConfig& c = m->cfg;
  c.family = Family::DeepSeekV3;
  c.config_path = "synthetic-mla";
  c.attention = AttentionKind::MLA;
  c.vocab_size = 10;
  c.hidden_size = 16;
  c.num_layers = 1;
  c.num_heads = 2;
  c.num_kv_heads = 2;
  c.q_lora_rank = 0;
  c.kv_lora_rank = 6;
  c.qk_nope_head_dim = 4;
  c.qk_rope_head_dim = 4;
  c.v_head_dim = 3;
  c.head_dim = 4;
  c.max_position_embeddings = 64;
  c.rms_norm_eps = 1e-6f;
  c.rope.interleaved = true;
  c.rope.type = "yarn";
  c.rope.theta = 10000.0;
  c.rope.factor = 4.0;
  c.rope.original_max_position = 16;
  c.rope.mscale = 1.0;
  c.rope.mscale_all_dim = 0.7;
  c.intermediate_size = 8;
  c.layer_is_moe = {false};
  ModelWeights& w = m->w;
  w.embed = m->add("embed", {10, 16}, rng, 1.0f);
  w.lm_head = m->add("lm_head", {10, 16}, rng, 0.3f);
  w.final_norm = m->add("norm", {16}, rng, 0.1f, 1.0f);
  LayerWeights L;
  L.input_norm = m->add("in_norm", {16}, rng, 0.1f, 1.0f);
  L.post_attention_norm = m->add("post_norm", {16}, rng, 0.1f, 1.0f);
  L.attn.q = m->add("q", {2 * 8, 16}, rng, 0.5f);
  L.attn.kv_a = m->add("kv_a", {6 + 4, 16}, rng, 0.5f);
  L.attn.kv_a_norm = m->add("kv_a_norm", {6}, rng, 0.1f, 1.0f);
  L.attn.kv_b = m->add("kv_b", {2 * (4 + 3), 6}, rng, 0.5f);
  L.attn.o = m->add("o", {16, 2 * 3}, rng, 0.3f);
  L.mlp.gate = m->add("gate", {8, 16}, rng, 0.3f);
  L.mlp.up = m->add("up", {8, 16}, rng, 0.3f);
  L.mlp.down = m->add("down", {16, 8}, rng, 0.3f);
  w.layers.push_back(L);
  return m;
}

double mscale(double factor, double m) { return factor <= 1 ? 1.0 : 0.1 * m * std::log(factor) + 1.0; }

std::vector<Vec> reference_mla_logits(const SyntheticModel& m, const std::vector<int32_t>& ids) {
  const ModelConfig& c = m.cfg;
  const LayerWeights& L = m.w.layers[0];
  const int T = int(ids.size()), nope = 4, rope = 4, vd = 3, heads = 2;
  // yarn frequencies over the rope dims, cos/sin scaled by mscale(f, mscale) / mscale(f, mscale_all_dim)
  const double f = c.rope.factor, base = c.rope.theta;
  auto corr = [&](double r) { return rope * std::log(c.rope.original_max_position / (r * 2 * M_PI)) / (2 * std::log(base)); };
  double low = std::max(std::floor(corr(32)), 0.0), high = std::min(std::ceil(corr(1)), double(rope - 1));
  if (low == high) high += 0.001;
  std::vector<double> inv(2);
  for (int i = 0; i < 2; ++i) {
    const double pf = std::pow(base, 2.0 * i / rope);
    const double ef = 1.0 - std::clamp((i - low) / (high - low), 0.0, 1.0);
    inv[size_t(i)] = 1.0 / (f * pf) * (1 - ef) + 1.0 / pf * ef;
  }
  const double af = mscale(f, c.rope.mscale) / mscale(f, c.rope.mscale_all_dim);
  const double scale = 1.0 / std::sqrt(double(nope + rope)) * mscale(f, c.rope.mscale_all_dim) * mscale(f, c.rope.mscale_all_dim);
  // interleaved rope kept in the interleaved layout: pairs (2i, 2i+1)
  auto rotate = [&](double* v, int pos) {
    for (int i = 0; i < rope / 2; ++i) {
      const double ang = pos * inv[size_t(i)], cs = std::cos(ang) * af, sn = std::sin(ang) * af;
      const double a = v[2 * i], b = v[2 * i + 1];
      v[2 * i] = a * cs - b * sn;
      v[2 * i + 1] = b * cs + a * sn;
    }
  };
  const size_t nT = static_cast<size_t>(T);
  std::vector<Vec> x(nT), q(nT), k(nT), v(nT);  // k: heads x (nope + rope), v: heads x vd
  for (int t = 0; t < T; ++t) {
    x[size_t(t)].resize(16);
    for (int i = 0; i < 16; ++i) x[size_t(t)][size_t(i)] = m.w.embed.at(int64_t(ids[size_t(t)]) * 16 + i);
    const Vec xn = ref_norm(x[size_t(t)], L.input_norm, c.rms_norm_eps);
    q[size_t(t)] = ref_linear(L.attn.q, nullptr, xn);
    const Vec kva = ref_linear(L.attn.kv_a, nullptr, xn);
    const Vec latent = ref_norm(Vec(kva.begin(), kva.begin() + 6), L.attn.kv_a_norm, 1e-6);
    Vec krot(kva.begin() + 6, kva.end());
    rotate(krot.data(), t);
    const Vec kvb = ref_linear(L.attn.kv_b, nullptr, latent);
    k[size_t(t)].assign(size_t(heads * (nope + rope)), 0.0);
    v[size_t(t)].assign(size_t(heads * vd), 0.0);
    for (int h = 0; h < heads; ++h) {
      rotate(q[size_t(t)].data() + h * (nope + rope) + nope, t);
      for (int i = 0; i < nope; ++i) k[size_t(t)][size_t(h * (nope + rope) + i)] = kvb[size_t(h * (nope + vd) + i)];
      for (int i = 0; i < rope; ++i) k[size_t(t)][size_t(h * (nope + rope) + nope + i)] = krot[size_t(i)];
      for (int i = 0; i < vd; ++i) v[size_t(t)][size_t(h * vd + i)] = kvb[size_t(h * (nope + vd) + nope + i)];
    }
  }
  std::vector<Vec> logits;
  for (int t = 0; t < T; ++t) {
    Vec attn(size_t(heads * vd), 0.0);
    for (int h = 0; h < heads; ++h) {
      std::vector<double> s;
      for (int j = 0; j <= t; ++j) {
        double d = 0;
        for (int i = 0; i < nope + rope; ++i)
          d += q[size_t(t)][size_t(h * (nope + rope) + i)] * k[size_t(j)][size_t(h * (nope + rope) + i)];
        s.push_back(d * scale);
      }
      double mx = s[0], z = 0;
      for (double e : s) mx = std::max(mx, e);
      for (double e : s) z += std::exp(e - mx);
      for (int j = 0; j <= t; ++j)
        for (int i = 0; i < vd; ++i) attn[size_t(h * vd + i)] += std::exp(s[size_t(j)] - mx) / z * v[size_t(j)][size_t(h * vd + i)];
    }
    const Vec o = ref_linear(L.attn.o, nullptr, attn);
    Vec h1(16);
    for (int i = 0; i < 16; ++i) h1[size_t(i)] = x[size_t(t)][size_t(i)] + o[size_t(i)];
    const Vec hn = ref_norm(h1, L.post_attention_norm, c.rms_norm_eps);
    const Vec g = ref_linear(L.mlp.gate, nullptr, hn), u = ref_linear(L.mlp.up, nullptr, hn);
    Vec act(8);
    for (int i = 0; i < 8; ++i) act[size_t(i)] = g[size_t(i)] / (1 + std::exp(-g[size_t(i)])) * u[size_t(i)];
    const Vec d = ref_linear(L.mlp.down, nullptr, act);
    for (int i = 0; i < 16; ++i) h1[size_t(i)] += d[size_t(i)];
    logits.push_back(ref_linear(m.w.lm_head, nullptr, ref_norm(h1, m.w.final_norm, c.rms_norm_eps)));
  }
  return logits;
}

TEST(AttentionFeatures, MlaWithoutQLoraAndYarnMscale) {
  auto syn = make_synthetic_mla();
  auto model = std::make_shared<Model>(syn->cfg, nullptr, syn->w, "synthetic-mla");
  const std::vector<int32_t> ids = {4, 1, 8, 8, 2, 6, 0, 9, 3, 5};
  const auto want = reference_mla_logits(*syn, ids);
  auto backend = make_cpu_backend(model, 2, 16);
  ForwardArgs a;
  a.tokens = ids.data();
  a.count = 4;
  a.all_logits = true;
  const float* lg = backend->forward(a);
  for (int t = 0; t < 4; ++t)
    for (int v = 0; v < 10; ++v) ASSERT_NEAR(lg[t * 10 + v], want[size_t(t)][size_t(v)], 1e-4) << "position " << t;
  for (int t = 4; t < int(ids.size()); ++t) {
    ForwardArgs d;
    d.tokens = ids.data() + t;
    d.count = 1;
    d.first_position = t;
    lg = backend->forward(d);
    for (int v = 0; v < 10; ++v) ASSERT_NEAR(lg[v], want[size_t(t)][size_t(v)], 1e-4) << "position " << t;
  }
}

}  // namespace
