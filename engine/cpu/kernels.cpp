// Scalar reference kernels, run-time dispatch to the AVX2 row dots, and the small fp32 helpers
// (RMSNorm, softmax, RoPE) that the forward pass shares across families.
#include "engine/cpu/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/cpu/dot_kernels.h"
#include "engine/cpu/fp8_kernels.h"
#include "engine/cpu/mxfp4_kernels.h"
#include "engine/cpu/tile_kernels.h"
#include "engine/util/error.h"
#include "engine/util/half.h"
#include "engine/util/thread_pool.h"

namespace moescope::cpu {

namespace detail {
namespace {

template <class Widen>
void dot_rows_scalar(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy, Widen widen) {
  for (int t = 0; t < T; ++t) {
    const float* xr = x + int64_t(t) * ldx;
    float s = 0.0f;
    for (int64_t i = 0; i < K; ++i) s += widen(w, i) * xr[i];
    y[int64_t(t) * ldy] = s;
  }
}

void f32_rows(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy) {
  dot_rows_scalar(x, ldx, T, w, K, y, ldy, [](const void* p, int64_t i) { return static_cast<const float*>(p)[i]; });
}
void bf16_rows(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy) {
  dot_rows_scalar(x, ldx, T, w, K, y, ldy,
                  [](const void* p, int64_t i) { return bf16_to_f32(static_cast<const uint16_t*>(p)[i]); });
}
void f16_rows(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy) {
  dot_rows_scalar(x, ldx, T, w, K, y, ldy,
                  [](const void* p, int64_t i) { return fp16_to_f32(static_cast<const uint16_t*>(p)[i]); });
}

}  // namespace

const DotTable& scalar_table() {
  static const DotTable table{&f32_rows, &bf16_rows, &f16_rows};
  return table;
}

}  // namespace detail

namespace {

// MOESCOPE_NO_SIMD=1 forces the scalar kernels (debugging, comparing paths).
bool initial_simd() {
  const char* off = std::getenv("MOESCOPE_NO_SIMD");
  return detail::avx2_table() != nullptr && !(off && *off && *off != '0');
}
bool g_simd = initial_simd();

const detail::DotTable& table() { return g_simd ? *detail::avx2_table() : detail::scalar_table(); }

detail::DotRowsFn fn_for(const TensorRef& W) {
  const auto& t = table();
  switch (W.dtype) {
    case DType::F32: return t.f32;
    case DType::BF16: return t.bf16;
    case DType::F16: return t.f16;
    case DType::MXFP4:
      return !g_simd ? &detail::mxfp4_rows_scalar
                     : detail::mxfp4_avx512() ? &detail::mxfp4_rows_avx512 : &detail::mxfp4_rows_avx2;
    case DType::FP8_B128: return g_simd ? &detail::fp8_rows_avx2 : &detail::fp8_rows_scalar;
    default: throw Error("tensor '" + W.name + "': dtype " + dtype_name(W.dtype) + " is not supported for matrices");
  }
}

using TileRows = detail::TileRowsFn;

const detail::TileTable* best_tiles() {
  static const detail::TileTable* best = detail::avx512_tile_table() ? detail::avx512_tile_table() : detail::avx2_tile_table();
  return best;
}

// MXFP4 batches: rows decoded to fp32 panels, then the best fp32 tiles.
void mxfp4_best_tiles(const float* x, int64_t ldx, int T, const void* w, int64_t K, int R, float* y, int64_t ldy) {
  detail::mxfp4_tiles(best_tiles()->f32, x, ldx, T, w, K, R, y, ldy);
}

// FP8 batches: rows decoded to fp32 panels, then the best fp32 tiles.
void fp8_best_tiles(const float* x, int64_t ldx, int T, const void* w, int64_t K, int R, float* y, int64_t ldy) {
  detail::fp8_tiles(best_tiles()->f32, x, ldx, T, w, K, R, y, ldy);
}

// Null when the scalar kernels are in use (they stay the reference for every batch size). AVX-512
// tiles when the CPU has them (about 1.3x the AVX2 tiles on Zen 4), else AVX2.
TileRows tile_fn_for(const TensorRef& W) {
  const detail::TileTable* t = g_simd ? best_tiles() : nullptr;
  if (!t) return nullptr;
  switch (W.dtype) {
    case DType::F32: return t->f32;
    case DType::BF16: return t->bf16;
    case DType::F16: return t->f16;
    case DType::MXFP4: return &mxfp4_best_tiles;
    case DType::FP8_B128: return &fp8_best_tiles;
    default: return nullptr;
  }
}

}  // namespace

bool simd_enabled() { return g_simd; }
void set_simd_enabled(bool on) { g_simd = on && detail::avx2_table() != nullptr; }

void check_matrix(const TensorRef& W, int64_t rows, int64_t cols) {
  if (!W.valid()) throw Error("missing weight tensor '" + W.name + "'");
  if (W.dtype != DType::F32 && W.dtype != DType::BF16 && W.dtype != DType::F16 && W.dtype != DType::MXFP4 &&
      W.dtype != DType::FP8_B128)
    throw Error("tensor '" + W.name + "': dtype " + dtype_name(W.dtype) +
                " is not supported (F32, BF16, F16, MXFP4, FP8 with block scales)");
  if (W.dtype == DType::MXFP4 && W.cols() % 32 != 0)
    throw Error("tensor '" + W.name + "': MXFP4 rows need a multiple of 32 columns, found " + std::to_string(W.cols()));
  if ((rows >= 0 && W.rows() != rows) || W.cols() != cols)
    throw Error("tensor '" + W.name + "': expected [" + std::to_string(rows) + ", " + std::to_string(cols) +
                "], found [" + std::to_string(W.rows()) + ", " + std::to_string(W.cols()) + "]");
}

void widen_row(const TensorRef& W, int64_t row, float* out) {
  const int64_t K = W.cols();
  const std::byte* p = W.data + size_t(row) * row_bytes(W.dtype, K);
  switch (W.dtype) {
    case DType::F32: std::memcpy(out, p, size_t(K) * 4); return;
    case DType::BF16: {
      const auto* h = reinterpret_cast<const uint16_t*>(p);
      for (int64_t i = 0; i < K; ++i) out[i] = bf16_to_f32(h[i]);
      return;
    }
    case DType::F16: {
      const auto* h = reinterpret_cast<const uint16_t*>(p);
      for (int64_t i = 0; i < K; ++i) out[i] = fp16_to_f32(h[i]);
      return;
    }
    default:
      for (int64_t i = 0; i < K; ++i) out[i] = W.at(row * K + i);
  }
}

float dot_row(const float* x, const TensorRef& W, int64_t row) {
  const int64_t K = W.cols();
  float y = 0.0f;
  const detail::DotRowsFn fn = fn_for(W);
  if (fn == &detail::mxfp4_rows_avx512) x = detail::mxfp4_block_order(x, K, 1, K);
  fn(x, K, 1, W.data + size_t(row) * row_bytes(W.dtype, K), K, &y, 1);
  return y;
}

void linear_multi(ThreadPool& pool, const float* x, int64_t ldx, int T, const LinearJob* jobs, int njobs) {
  if (T <= 0 || njobs <= 0) return;
  struct Prepared {
    detail::DotRowsFn fn;
    const std::byte* w;
    size_t row_bytes;
    int64_t K;
    int64_t first_row;  // global row index where this job starts
    int64_t rows;
    const float* bias;  // null when absent (biases are read through to_f32-free paths below)
    const TensorRef* bias_ref;
    float* y;
    int64_t ldy;
    const float* x;  // the activations as this job's kernel wants them
    int64_t ldx;
  };
  Prepared prep[4];
  if (njobs > 4) throw Error("linear_multi: at most 4 jobs");
  int64_t total = 0;
  int64_t K = -1;
  for (int j = 0; j < njobs; ++j) {
    const TensorRef& W = *jobs[j].W;
    if (K < 0) K = W.cols();
    const TensorRef* b = (jobs[j].bias && jobs[j].bias->valid()) ? jobs[j].bias : nullptr;
    prep[j] = {fn_for(W), W.data, row_bytes(W.dtype, W.cols()), W.cols(), total, W.rows(),
               (b && b->dtype == DType::F32) ? reinterpret_cast<const float*>(b->data) : nullptr, b, jobs[j].y, jobs[j].ldy,
               x, ldx};
    total += W.rows();
  }
  // Enough work per chunk that handing it to another thread pays off (~64k multiply-adds, a few
  // microseconds); smaller matrices run on the calling thread.
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, K * T));
  // Batches (prefill) take the register-tiled kernel over each job's run of rows; one token (decode)
  // keeps the row dots, whose cost is reading the weights.
  TileRows tile_fns[4] = {};
  if (T >= 2)
    for (int j = 0; j < njobs; ++j) tile_fns[j] = tile_fn_for(*jobs[j].W);
  // MXFP4 kernels on AVX-512 (row dots and panels) read the activations in block order: reordered once here.
  const float* block_x = nullptr;
  for (int j = 0; j < njobs; ++j)
    if (prep[j].fn == &detail::mxfp4_rows_avx512) {
      if (!block_x) block_x = detail::mxfp4_block_order(x, ldx, T, K);
      prep[j].x = block_x;
      prep[j].ldx = K;
    }
  pool.parallel_for(total, grain, [&](int64_t begin, int64_t end, int) {
    int j = 0;
    for (int64_t r = begin; r < end;) {
      while (r >= prep[j].first_row + prep[j].rows) ++j;
      const Prepared& p = prep[j];
      const int64_t n = r - p.first_row;
      float* y = p.y + n;
      int64_t count = 1;
      if (tile_fns[j]) {
        count = std::min(end, p.first_row + p.rows) - r;
        tile_fns[j](p.x, p.ldx, T, p.w + size_t(n) * p.row_bytes, p.K, int(count), y, p.ldy);
      } else {
        p.fn(p.x, p.ldx, T, p.w + size_t(n) * p.row_bytes, p.K, y, p.ldy);
      }
      if (p.bias_ref)
        for (int64_t c = 0; c < count; ++c) {
          const float b = p.bias ? p.bias[n + c] : p.bias_ref->at(n + c);
          for (int t = 0; t < T; ++t) y[int64_t(t) * p.ldy + c] += b;
        }
      r += count;
    }
  });
}

void linear(ThreadPool& pool, const float* x, int64_t ldx, int T, const TensorRef& W, const TensorRef* bias, float* y,
            int64_t ldy) {
  LinearJob job{&W, bias, y, ldy};
  linear_multi(pool, x, ldx, T, &job, 1);
}

void rmsnorm(const float* x, const TensorRef& w, int64_t n, float eps, float* y) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * double(x[i]);
  const float var = float(ss / double(n));
  const float r = 1.0f / std::sqrt(var + eps);
  if (!w.valid()) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * r;
  } else if (w.dtype == DType::F32) {
    const float* wf = reinterpret_cast<const float*>(w.data);
    for (int64_t i = 0; i < n; ++i) y[i] = wf[i] * (x[i] * r);
  } else if (w.dtype == DType::BF16) {  // same values as w.at(i), without its per-element dispatch
    const uint16_t* wb = reinterpret_cast<const uint16_t*>(w.data);
    for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(wb[i]) * (x[i] * r);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = w.at(i) * (x[i] * r);
  }
}

namespace {
// Element i of a norm vector as fp32, with the common dtypes read directly.
inline float norm_value(const TensorRef& w, int64_t i) {
  if (w.dtype == DType::F32) return reinterpret_cast<const float*>(w.data)[i];
  if (w.dtype == DType::BF16) return bf16_to_f32(reinterpret_cast<const uint16_t*>(w.data)[i]);
  return w.at(i);
}
}  // namespace

void layernorm(const float* x, const TensorRef& w, const TensorRef& b, int64_t n, float eps, float* y) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const double mean = sum / double(n);
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += (double(x[i]) - mean) * (double(x[i]) - mean);
  const float rstd = 1.0f / std::sqrt(float(ss / double(n)) + eps);  // biased variance, as torch
  // torch's CPU kernel: (x * rstd + (-mean * rstd)) * weight + bias
  const float shift = -float(mean) * rstd;
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i] * rstd + shift;
    if (w.valid()) v *= norm_value(w, i);
    if (b.valid()) v += norm_value(b, i);
    y[i] = v;
  }
}

void softmax(float* x, int n) {
  if (n <= 0) return;
  float m = x[0];
  for (int i = 1; i < n; ++i) m = std::max(m, x[i]);
  float s = 0.0f;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    s += x[i];
  }
  for (int i = 0; i < n; ++i) x[i] /= s;
}

void rope_rotate_half(float* v, int dim, const float* cos, const float* sin) {
  const int h = dim / 2;
  for (int i = 0; i < h; ++i) {
    const float a = v[i], b = v[i + h];
    v[i] = a * cos[i] - b * sin[i];
    v[i + h] = b * cos[i] + a * sin[i];
  }
}

void rope_interleaved(float* v, int dim, const float* cos, const float* sin, float* tmp) {
  const int h = dim / 2;
  for (int i = 0; i < h; ++i) {
    tmp[i] = v[2 * i];
    tmp[i + h] = v[2 * i + 1];
  }
  rope_rotate_half(tmp, dim, cos, sin);
  std::memcpy(v, tmp, size_t(dim) * sizeof(float));
}

}  // namespace moescope::cpu
