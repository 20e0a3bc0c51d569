// LinearRunner: picks the decode kernel or widen + cuBLAS by batch size (see linear_runner.h).
#include "engine/cuda/linear_runner.h"

#include "engine/cuda/linear.cuh"

namespace moescope::cuda {

void LinearRunner::run(const float* x, int64_t ldx, int T, const DMat& W, const float* bias, float* y, int64_t ldy,
                       bool accumulate) {
  if (T <= 0) return;
  if (T <= kSmallRows) {
    launch_linear_small(x, ldx, T, W, bias, y, ldy, accumulate, m_stream);
    return;
  }
  const float* wf = static_cast<const float*>(W.data);
  if (W.type != WType::F32) {
    m_widened.reserve(size_t(W.rows) * size_t(W.cols));
    launch_widen(W, m_widened.get(), m_stream);
    wf = m_widened.get();
  }
  m_blas.gemm_xwt(x, ldx, T, wf, W.rows, W.cols, y, ldy, accumulate);
  launch_add_bias(y, ldy, T, W.rows, bias, m_stream);
}

}  // namespace moescope::cuda
