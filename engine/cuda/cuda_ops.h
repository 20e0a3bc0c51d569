// One CUDA op family at a time on host data, for the CPU-vs-CUDA op tests (tests/engine/tst_cuda_ops.cpp,
// ggml test-backend-ops style). Each call uploads its inputs, runs the same launchers the backend uses,
// and returns the result; plain C++ so tests include it without CUDA headers. Throws Error (with
// cuda_unavailable_reason()) without a device.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/model/model_config.h"
#include "engine/model/model_weights.h"
#include "engine/routing/routing_types.h"

namespace moescope::cuda_ops {

// y [T, W.rows] = x [T, W.cols] W^T + bias (bias may be null/invalid). T <= 8 takes the decode kernel,
// larger T the widen + cuBLAS path.
std::vector<float> linear(const std::vector<float>& x, int T, const TensorRef& W, const TensorRef* bias);

// rows of n values, RMSNorm with weight w (invalid: no scale).
std::vector<float> rmsnorm(const std::vector<float>& x, int rows, int n, const TensorRef& w, float eps);

// v [T, heads*head_dim]: RoPE on the first rot_dim values of each head at positions pos0 + t.
// cos/sin: [positions, rot_dim/2].
std::vector<float> rope(const std::vector<float>& v, int T, int heads, int head_dim, int rot_dim, int pos0,
                        const std::vector<float>& cos, const std::vector<float>& sin, bool interleaved);

// q [T, heads*qk_dim] at positions [pos0, pos0+T); K [pos0+T, kv_heads*qk_dim], V [pos0+T, kv_heads*v_dim].
// sinks: empty or [heads]. window 0 = full.
std::vector<float> attention(const std::vector<float>& q, int T, int pos0, const std::vector<float>& K,
                             const std::vector<float>& V, int heads, int kv_heads, int qk_dim, int v_dim, float scale,
                             int window, const std::vector<float>& sinks);

// The device router's native rule: logits [T, E] -> experts/weights [T, k] with k = num_experts_per_tok.
// correction_bias: empty or [E].
void route_native(const ModelConfig& cfg, const std::vector<float>& logits, int T,
                  const std::vector<float>& correction_bias, std::vector<int32_t>& experts, std::vector<float>& weights);

// The MoE block after routing: x [T, H] += sum of each token's routed experts' SwiGLU outputs (weighted,
// dropped tokens skipped) + sigmoid(shared_gate xn) * shared(xn) when shared is given. xn: the normed
// input [T, H]. Returns the new x.
std::vector<float> moe_experts(const std::vector<float>& x, const std::vector<float>& xn, int T,
                               const std::vector<FfnWeights>& experts, const RoutingDecision& d,
                               const FfnWeights* shared, const TensorRef* shared_gate, float swiglu_limit);

// Arg-max of each row of logits [rows, vocab] (ties to the lower id).
std::vector<int32_t> argmax_rows(const std::vector<float>& logits, int rows, int vocab);

}  // namespace moescope::cuda_ops
