// Expert FFN kernels. Each block takes 8 output rows of one active expert for a tile of up to
// kSmallRows of that expert's tokens, so a weight row is read once per tile (once per step when
// decoding) whatever the number of experts. Blocks past the active experts or tokens exit at once.
#include <algorithm>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_common.cuh"
#include "engine/cuda/expert_ffn.cuh"

namespace moescope::cuda {

namespace {

constexpr int kRows = 8;           // warps per block, one output row each
constexpr int kTile = kSmallRows;  // tokens per block

__device__ __forceinline__ float activate(float g, float u, float limit) {
  if (limit > 0.0f) {  // GPT-OSS clamped SwiGLU
    const float gi = fminf(g, limit);
    const float ui = fminf(fmaxf(u, -limit), limit);
    return (ui + 1.0f) * (gi / (1.0f + expf(-gi * 1.702f)));
  }
  return g / (1.0f + expf(-g)) * u;
}

template <class W>
__device__ __forceinline__ float load_w(const W* p) { return to_f32(*p); }

template <class W>
__global__ void __launch_bounds__(32 * kRows)
    gate_up_kernel(const float* __restrict__ xn, ExpertLists L, ExpertTable tab, float limit, float* __restrict__ act) {
  if (int(blockIdx.y) >= *L.n_active) return;
  const int e = L.active[blockIdx.y];
  const int p0 = L.offsets[e] + blockIdx.z * kTile;
  const int p1 = min(L.offsets[e + 1], p0 + kTile);
  if (p0 >= p1) return;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int row = blockIdx.x * kRows + warp;
  const int H = tab.hidden, I = tab.inter;
  if (row >= I) return;
  const W* g = static_cast<const W*>(tab.gate[e]) + (long long)row * H;
  const W* u = static_cast<const W*>(tab.up[e]) + (long long)row * H;
  int tok[kTile];
#pragma unroll
  for (int i = 0; i < kTile; ++i) tok[i] = p0 + i < p1 ? L.pair_tok[p0 + i] : 0;
  float ag[kTile], au[kTile];
#pragma unroll
  for (int i = 0; i < kTile; ++i) ag[i] = au[i] = 0.0f;
  for (int k = lane; k < H; k += 32) {
    const float gw = load_w(g + k), uw = load_w(u + k);
#pragma unroll
    for (int i = 0; i < kTile; ++i) {
      if (p0 + i < p1) {
        const float xv = xn[(long long)tok[i] * H + k];
        ag[i] = fmaf(gw, xv, ag[i]);
        au[i] = fmaf(uw, xv, au[i]);
      }
    }
  }
  const float gb = tab.gate_bias ? tab.gate_bias[e][row] : 0.0f;
  const float ub = tab.up_bias ? tab.up_bias[e][row] : 0.0f;
#pragma unroll
  for (int i = 0; i < kTile; ++i) {
    if (p0 + i < p1) {
      const float sg = warp_sum(ag[i]), su = warp_sum(au[i]);
      if (lane == 0) act[(long long)(p0 + i) * I + row] = activate(sg + gb, su + ub, limit);
    }
  }
}

template <class W>
__global__ void __launch_bounds__(32 * kRows)
    down_kernel(const float* __restrict__ act, ExpertLists L, ExpertTable tab, float* __restrict__ out_pair) {
  if (int(blockIdx.y) >= *L.n_active) return;
  const int e = L.active[blockIdx.y];
  const int p0 = L.offsets[e] + blockIdx.z * kTile;
  const int p1 = min(L.offsets[e + 1], p0 + kTile);
  if (p0 >= p1) return;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int row = blockIdx.x * kRows + warp;
  const int H = tab.hidden, I = tab.inter;
  if (row >= H) return;
  const W* d = static_cast<const W*>(tab.down[e]) + (long long)row * I;
  float acc[kTile];
#pragma unroll
  for (int i = 0; i < kTile; ++i) acc[i] = 0.0f;
  for (int k = lane; k < I; k += 32) {
    const float dw = load_w(d + k);
#pragma unroll
    for (int i = 0; i < kTile; ++i)
      if (p0 + i < p1) acc[i] = fmaf(dw, act[(long long)(p0 + i) * I + k], acc[i]);
  }
  const float b = tab.down_bias ? tab.down_bias[e][row] : 0.0f;
#pragma unroll
  for (int i = 0; i < kTile; ++i) {
    if (p0 + i < p1) {
      const float s = warp_sum(acc[i]);
      if (lane == 0) out_pair[(long long)(p0 + i) * H + row] = s + b;
    }
  }
}

__global__ void combine_kernel(float* x, int k, int H, const float* __restrict__ out_pair,
                               const int32_t* __restrict__ slot_pair, const float* __restrict__ w,
                               const float* __restrict__ shared_out, const float* __restrict__ shared_gate_logit) {
  const int t = blockIdx.x;
  const int32_t* sp = slot_pair ? slot_pair + (long long)t * k : nullptr;
  const float* wt = w ? w + (long long)t * k : nullptr;
  const float g = shared_gate_logit ? 1.0f / (1.0f + expf(-shared_gate_logit[t])) : 1.0f;
  for (int h = threadIdx.x; h < H; h += blockDim.x) {
    float moe = 0.0f;
    for (int j = 0; j < k; ++j) {
      const int p = sp[j];
      if (p >= 0) moe += out_pair[(long long)p * H + h] * wt[j];
    }
    if (shared_out) moe += g * shared_out[(long long)t * H + h];
    x[(long long)t * H + h] += moe;
  }
}

template <class W>
__global__ void __launch_bounds__(32 * kRows)
    down_combine_1_kernel(float* x, const float* __restrict__ act, const int32_t* __restrict__ experts,
                          const int32_t* __restrict__ slot_pair, const float* __restrict__ w, int k, ExpertTable tab,
                          const float* __restrict__ shared_out, const float* __restrict__ shared_gate_logit) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int row = blockIdx.x * kRows + warp;
  const int H = tab.hidden, I = tab.inter;
  if (row >= H) return;
  float acc = 0.0f, bias = 0.0f;
  for (int j = 0; j < k; ++j) {
    const int p = slot_pair[j];
    if (p < 0) continue;  // none, dropped, or a repeat of an earlier slot's expert
    const int e = experts[j];
    const float wj = w[j];
    const W* d = static_cast<const W*>(tab.down[e]) + (long long)row * I;
    const float* a = act + (long long)p * I;
    float part = 0.0f;
    for (int i = lane; i < I; i += 32) part = fmaf(load_w(d + i), a[i], part);
    acc = fmaf(wj, part, acc);
    if (tab.down_bias) bias = fmaf(wj, tab.down_bias[e][row], bias);
  }
  const float moe = warp_sum(acc) + bias;
  if (lane == 0) {
    float add = moe;
    if (shared_out) {
      const float g = shared_gate_logit ? 1.0f / (1.0f + expf(-shared_gate_logit[0])) : 1.0f;
      add += g * shared_out[row];
    }
    x[row] += add;
  }
}

__global__ void swiglu_kernel(float* g, const float* __restrict__ u, size_t n, float limit) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    g[i] = activate(g[i], u[i], limit);
}

}  // namespace

void launch_expert_gate_up(const float* xn, const ExpertLists& lists, const ExpertTable& tab, int max_active,
                           int max_pairs_per_expert, float swiglu_limit, float* act, cudaStream_t s) {
  if (max_active <= 0 || max_pairs_per_expert <= 0) return;
  const dim3 grid(ceil_div(tab.inter, kRows), unsigned(max_active), ceil_div(max_pairs_per_expert, kTile));
  dispatch_wtype(tab.type, [&](auto tag) {
    using T_ = decltype(tag);
    gate_up_kernel<T_><<<grid, 32 * kRows, 0, s>>>(xn, lists, tab, swiglu_limit, act);
  });
  MOESCOPE_CUDA_LAUNCHED();
}

void launch_expert_down(const float* act, const ExpertLists& lists, const ExpertTable& tab, int max_active,
                        int max_pairs_per_expert, float* out_pair, cudaStream_t s) {
  if (max_active <= 0 || max_pairs_per_expert <= 0) return;
  const dim3 grid(ceil_div(tab.hidden, kRows), unsigned(max_active), ceil_div(max_pairs_per_expert, kTile));
  dispatch_wtype(tab.type, [&](auto tag) {
    using T_ = decltype(tag);
    down_kernel<T_><<<grid, 32 * kRows, 0, s>>>(act, lists, tab, out_pair);
  });
  MOESCOPE_CUDA_LAUNCHED();
}

void launch_moe_combine(float* x, int T, int k, int H, const float* out_pair, const int32_t* slot_pair, const float* w,
                        const float* shared_out, const float* shared_gate_logit, cudaStream_t s) {
  if (T <= 0) return;
  if (!slot_pair || !w) k = 0;
  combine_kernel<<<T, 256, 0, s>>>(x, k, H, out_pair, slot_pair, w, shared_out, shared_gate_logit);
  MOESCOPE_CUDA_LAUNCHED();
}

void launch_expert_down_combine_1(float* x, const float* act, const int32_t* experts, const int32_t* slot_pair,
                                  const float* w, int k, const ExpertTable& tab, const float* shared_out,
                                  const float* shared_gate_logit, cudaStream_t s) {
  dispatch_wtype(tab.type, [&](auto tag) {
    using T_ = decltype(tag);
    down_combine_1_kernel<T_><<<ceil_div(tab.hidden, kRows), 32 * kRows, 0, s>>>(x, act, experts, slot_pair, w, k, tab,
                                                                                shared_out, shared_gate_logit);
  });
  MOESCOPE_CUDA_LAUNCHED();
}

void launch_swiglu(float* g, const float* u, size_t n, float swiglu_limit, cudaStream_t s) {
  if (n == 0) return;
  swiglu_kernel<<<unsigned(std::min<size_t>((n + 255) / 256, 4096)), 256, 0, s>>>(g, u, n, swiglu_limit);
  MOESCOPE_CUDA_LAUNCHED();
}

}  // namespace moescope::cuda
