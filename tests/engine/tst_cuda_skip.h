// Shared by the tst_cuda_* tests: whether a CUDA device is usable, and the visible skip when it is not
// (GTEST_SKIP with the "no CUDA device: ..." reason). In builds without MOESCOPE_CUDA the CUDA entry
// points are stubs here, so the tests still compile and skip instead of disappearing.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "engine/cuda/cuda_ops.h"
#ifdef MOESCOPE_HAVE_CUDA
#include "engine/cuda/cuda_device.h"
#else
#include "engine/util/error.h"
#endif

namespace moescope::test {

#ifdef MOESCOPE_HAVE_CUDA
inline std::string cuda_skip_reason() { return cuda_unavailable_reason(); }
#else
inline std::string cuda_skip_reason() {
  return "no CUDA device: this build has no CUDA backend (configure with -DMOESCOPE_CUDA=ON)";
}
#endif

}  // namespace moescope::test

#define MOESCOPE_REQUIRE_CUDA()                                              \
  do {                                                                       \
    const std::string moescope_why_ = ::moescope::test::cuda_skip_reason();  \
    if (!moescope_why_.empty()) GTEST_SKIP() << moescope_why_;               \
  } while (0)

#ifndef MOESCOPE_HAVE_CUDA
// Never reached (every test skips first); they only let the tests link without the CUDA library.
namespace moescope::cuda_ops {
[[noreturn]] inline void no_cuda() { throw Error(::moescope::test::cuda_skip_reason()); }
inline std::vector<float> linear(const std::vector<float>&, int, const TensorRef&, const TensorRef*) { no_cuda(); }
inline std::vector<float> rmsnorm(const std::vector<float>&, int, int, const TensorRef&, float) { no_cuda(); }
inline std::vector<float> rope(const std::vector<float>&, int, int, int, int, int, const std::vector<float>&,
                               const std::vector<float>&, bool) { no_cuda(); }
inline std::vector<float> attention(const std::vector<float>&, int, int, const std::vector<float>&,
                                    const std::vector<float>&, int, int, int, int, float, int, const std::vector<float>&) {
  no_cuda();
}
inline void route_native(const ModelConfig&, const std::vector<float>&, int, const std::vector<float>&,
                         std::vector<int32_t>&, std::vector<float>&) { no_cuda(); }
inline std::vector<float> moe_experts(const std::vector<float>&, const std::vector<float>&, int,
                                      const std::vector<FfnWeights>&, const RoutingDecision&, const FfnWeights*,
                                      const TensorRef*, float) { no_cuda(); }
inline std::vector<int32_t> argmax_rows(const std::vector<float>&, int, int) { no_cuda(); }
}  // namespace moescope::cuda_ops
#endif
