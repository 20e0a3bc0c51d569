// Register-tiled batch kernels (engine/cpu/tile_kernels_avx2.cpp) through cpu::linear / linear_multi:
// against a double-precision sum computed here, for every weight dtype, ragged sizes (K not a multiple
// of 8, rows not of 4, tokens not of 3), strided inputs/outputs, biases and several jobs at once.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/cpu/kernels.h"
#include "engine/cpu/tile_kernels.h"
#include "engine/util/half.h"
#include "engine/util/thread_pool.h"

namespace {

using moescope::DType;
using moescope::TensorRef;

struct Mat {
  std::vector<std::byte> bytes;
  std::vector<double> ref;  // the stored values, widened exactly
  TensorRef t;
};

uint16_t to_bf16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return uint16_t(b >> 16);  // truncation: the reference uses the stored value, whatever it is
}

Mat make(DType dt, int64_t rows, int64_t cols, std::mt19937& rng) {
  Mat m;
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const size_t n = size_t(rows * cols);
  m.ref.resize(n);
  m.bytes.resize(n * moescope::dtype_size(dt));
  for (size_t i = 0; i < n; ++i) {
    const float v = u(rng);
    if (dt == DType::F32) {
      std::memcpy(m.bytes.data() + 4 * i, &v, 4);
      m.ref[i] = v;
    } else if (dt == DType::BF16) {
      const uint16_t h = to_bf16(v);
      std::memcpy(m.bytes.data() + 2 * i, &h, 2);
      uint32_t b = uint32_t(h) << 16;
      float f;
      std::memcpy(&f, &b, 4);
      m.ref[i] = f;
    } else {
      const uint16_t h = moescope::f32_to_fp16(v);
      std::memcpy(m.bytes.data() + 2 * i, &h, 2);
      m.ref[i] = moescope::fp16_to_f32(h);
    }
  }
  m.t.name = "w";
  m.t.dtype = dt;
  m.t.shape = {rows, cols};
  m.t.data = m.bytes.data();
  m.t.nbytes = m.bytes.size();
  return m;
}

// The exact value of row r of W times the activations x[0..K) in double precision, and the sum of the
// terms' magnitudes (the tolerance scales with it).
struct RefDot {
  double value = 0, magnitude = 0;
};
RefDot ref_dot(const Mat& W, int64_t r, int64_t K, const float* x) {
  RefDot d;
  for (int64_t k = 0; k < K; ++k) {
    const double term = W.ref[size_t(r * K + k)] * double(x[k]);
    d.value += term;
    d.magnitude += std::fabs(term);
  }
  return d;
}

TEST(TileKernels, LinearMatchesADoubleSumForRaggedBatches) {
  std::mt19937 rng(7);
  moescope::ThreadPool pool(2);
  for (DType dt : {DType::F32, DType::BF16, DType::F16})
    for (int64_t K : {5, 8, 37, 256})
      for (int64_t N : {1, 3, 4, 9, 130})
        for (int T : {2, 3, 4, 7, 40}) {
          SCOPED_TRACE(testing::Message() << moescope::dtype_name(dt) << " K=" << K << " N=" << N << " T=" << T);
          Mat W = make(dt, N, K, rng);
          Mat B = make(DType::F32, 1, N, rng);
          B.t.shape = {N};
          const int64_t ldx = K + 3, ldy = N + 2;
          std::vector<float> x(size_t(T * ldx));
          std::uniform_real_distribution<float> u(-1.0f, 1.0f);
          for (auto& v : x) v = u(rng);
          std::vector<float> y(size_t(T * ldy), -7.0f);
          moescope::cpu::linear(pool, x.data(), ldx, T, W.t, &B.t, y.data(), ldy);
          for (int t = 0; t < T; ++t)
            for (int64_t n = 0; n < N; ++n) {
              const RefDot d = ref_dot(W, n, K, x.data() + t * ldx);
              const double s = B.ref[size_t(n)] + d.value, mag = std::fabs(B.ref[size_t(n)]) + d.magnitude;
              ASSERT_NEAR(y[size_t(t * ldy + n)], s, 1e-6 * mag + 1e-7) << "t=" << t << " n=" << n;
            }
          // Padding between rows is left alone.
          for (int t = 0; t < T; ++t) EXPECT_EQ(y[size_t(t * ldy + N)], -7.0f);
        }
}

TEST(TileKernels, MultiJobBatchEqualsSeparateLinears) {
  std::mt19937 rng(11);
  moescope::ThreadPool pool(2);
  const int64_t K = 96;
  const int T = 11;
  Mat A = make(DType::BF16, 70, K, rng), C = make(DType::BF16, 33, K, rng);
  std::vector<float> x(size_t(T * K));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (auto& v : x) v = u(rng);
  std::vector<float> ya(size_t(T * 70)), yc(size_t(T * 33)), ya2(ya.size()), yc2(yc.size());
  const moescope::cpu::LinearJob jobs[2] = {{&A.t, nullptr, ya.data(), 70}, {&C.t, nullptr, yc.data(), 33}};
  moescope::cpu::linear_multi(pool, x.data(), K, T, jobs, 2);
  moescope::cpu::linear(pool, x.data(), K, T, A.t, nullptr, ya2.data(), 70);
  moescope::cpu::linear(pool, x.data(), K, T, C.t, nullptr, yc2.data(), 33);
  EXPECT_EQ(ya, ya2);
  EXPECT_EQ(yc, yc2);
}

TEST(TileKernels, BatchRowsEqualTheSingleTokenPathClosely) {
  // A token's output must not depend much on what else is in the batch (prefill vs decode).
  std::mt19937 rng(3);
  moescope::ThreadPool pool(1);
  const int64_t K = 300, N = 50;
  const int T = 9;
  Mat W = make(DType::BF16, N, K, rng);
  std::vector<float> x(size_t(T * K));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (auto& v : x) v = u(rng);
  std::vector<float> yb(size_t(T * N));
  std::vector<float> y1(static_cast<size_t>(N));
  moescope::cpu::linear(pool, x.data(), K, T, W.t, nullptr, yb.data(), N);
  for (int t = 0; t < T; ++t) {
    moescope::cpu::linear(pool, x.data() + t * K, K, 1, W.t, nullptr, y1.data(), N);
    for (int64_t n = 0; n < N; ++n) EXPECT_NEAR(yb[size_t(t * N + n)], y1[size_t(n)], 1e-5f);
  }
}

}  // namespace

namespace {

// Each instruction-set table directly (cpu::linear picks only the best one for this CPU). With AVX-512, 37
// tokens go 32 to the broadcast kernel and 5 to the tiles, 40 all to the broadcast kernel (its last vector
// padded); the broadcast table on its own takes any count, 25 rows leave a partial row block at every width.
TEST(TileKernels, EveryAvailableTableMatchesADoubleSum) {
  namespace d = moescope::cpu::detail;
  std::mt19937 rng(5);
  int tested = 0;
  for (const d::TileTable* table : {d::avx2_tile_table(), d::avx512_tile_table(), d::avx512_broadcast_table()}) {
    if (!table) continue;
    ++tested;
    for (DType dt : {DType::F32, DType::BF16, DType::F16})
      for (int64_t K : {7, 16, 40, 520})
        for (int R : {1, 5, 8, 25})
          for (int T : {1, 2, 4, 5, 6, 13, 37, 40, 50, 100}) {
            SCOPED_TRACE(testing::Message() << moescope::dtype_name(dt) << " K=" << K << " R=" << R << " T=" << T);
            Mat W = make(dt, R, K, rng);
            std::vector<float> x(size_t(T * K));
            std::uniform_real_distribution<float> u(-1.0f, 1.0f);
            for (auto& v : x) v = u(rng);
            std::vector<float> y(size_t(T * R));
            const d::TileRowsFn fn = dt == DType::F32 ? table->f32 : dt == DType::BF16 ? table->bf16 : table->f16;
            fn(x.data(), K, T, W.bytes.data(), K, R, y.data(), R);
            for (int t = 0; t < T; ++t)
              for (int r = 0; r < R; ++r) {
                const RefDot d = ref_dot(W, r, K, x.data() + t * K);
                ASSERT_NEAR(y[size_t(t * R + r)], d.value, 1e-6 * d.magnitude + 1e-7) << "t=" << t << " r=" << r;
              }
          }
  }
  if (tested == 0) GTEST_SKIP() << "no SIMD tile kernels on this CPU";
}

// Activation strides that are a multiple of 1 KiB (hidden 1024, 2048, ... in fp32) are copied to a buffer
// with a longer stride before the kernel runs (engine/cpu/activation_rows.h). The copy must not change a
// single bit: the same rows at an aliasing and at a plain stride give identical outputs, and both match a
// double sum. Token counts above the kernels' chunk sizes (96 / 36 / 32 tokens) cross chunk boundaries.
TEST(TileKernels, AliasingActivationStridesGiveIdenticalResults) {
  namespace d = moescope::cpu::detail;
  std::mt19937 rng(13);
  int tested = 0;
  for (const d::TileTable* table : {d::avx2_tile_table(), d::avx512_tile_table(), d::avx512_broadcast_table()}) {
    if (!table) continue;
    ++tested;
    for (DType dt : {DType::F32, DType::BF16})
      for (int64_t K : {1000, 1024, 2048})
        for (int T : {2, 7, 40, 100}) {
          SCOPED_TRACE(testing::Message() << moescope::dtype_name(dt) << " K=" << K << " T=" << T);
          const int R = 9;
          Mat W = make(dt, R, K, rng);
          const int64_t aliasing = K <= 1024 ? 1024 : 2048, plain = K + 5;
          std::vector<float> xa(size_t(T * aliasing)), xp(size_t(T * plain));
          std::uniform_real_distribution<float> u(-1.0f, 1.0f);
          for (int t = 0; t < T; ++t)
            for (int64_t k = 0; k < K; ++k) xa[size_t(t * aliasing + k)] = xp[size_t(t * plain + k)] = u(rng);
          std::vector<float> ya(size_t(T * R)), yp(size_t(T * R));
          const d::TileRowsFn fn = dt == DType::F32 ? table->f32 : table->bf16;
          fn(xa.data(), aliasing, T, W.bytes.data(), K, R, ya.data(), R);
          fn(xp.data(), plain, T, W.bytes.data(), K, R, yp.data(), R);
          ASSERT_EQ(ya, yp);
          for (int t = 0; t < T; ++t)
            for (int r = 0; r < R; ++r) {
              const RefDot d = ref_dot(W, r, K, xp.data() + t * plain);
              ASSERT_NEAR(ya[size_t(t * R + r)], d.value, 1e-6 * d.magnitude + 1e-7) << "t=" << t << " r=" << r;
            }
        }
  }
  if (tested == 0) GTEST_SKIP() << "no SIMD tile kernels on this CPU";
}

}  // namespace
