// LinearRunner: picks the decode kernel or widen + cuBLAS by batch size (see linear_runner.h). Wide
// weights are widened a block of rows at a time, so the fp32 scratch stays small (kWidenBytes) even
// for a large vocabulary's lm_head.
#include "engine/cuda/linear_runner.h"

#include <algorithm>

#include "engine/cuda/linear.cuh"

namespace moescope::cuda {

namespace {
constexpr size_t kWidenBytes = size_t(128) << 20;
}

void LinearRunner::run(const float* x, int64_t ldx, int T, const DMat& W, const float* bias, float* y, int64_t ldy,
                       bool accumulate) {
  if (T <= 0) return;
  if (T <= kSmallRows) {
    launch_linear_small(x, ldx, T, W, bias, y, ldy, accumulate, m_stream);
    return;
  }
  if (W.type == WType::F32) {
    m_blas.gemm_xwt(x, ldx, T, static_cast<const float*>(W.data), W.rows, W.cols, y, ldy, accumulate);
    launch_add_bias(y, ldy, T, W.rows, bias, m_stream);
    return;
  }
  const int block = int(std::clamp<size_t>(kWidenBytes / (sizeof(float) * size_t(W.cols)), 1, size_t(W.rows)));
  m_widened.reserve(size_t(block) * size_t(W.cols));
  for (int n0 = 0; n0 < W.rows; n0 += block) {
    DMat part = W;
    part.rows = std::min(block, W.rows - n0);
    part.data = static_cast<const unsigned char*>(W.data) + size_t(n0) * W.cols * wtype_size(W.type);
    launch_widen(part, m_widened.get(), m_stream);  // stream order: the previous block's GEMM is done
    m_blas.gemm_xwt(x, ldx, T, m_widened.get(), part.rows, part.cols, y + n0, ldy, accumulate);
    launch_add_bias(y + n0, ldy, T, part.rows, bias ? bias + n0 : nullptr, m_stream);
  }
}

}  // namespace moescope::cuda
