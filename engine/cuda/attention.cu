// Attention kernels: one warp per (token, head) with an online softmax over chunks of 32 cached
// positions (each lane scores one position, then the warp accumulates the values), so any context
// length runs without a score buffer. Mirrors CpuBackend::attend (engine/cpu/cpu_attention.cpp).
#include <cmath>

#include "engine/cuda/attention.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_common.cuh"

namespace moescope::cuda {

namespace {

constexpr int kWarpsPerBlock = 4;

template <int VPL>  // value dims per lane: v_dim <= 32 * VPL
__global__ void __launch_bounds__(32 * kWarpsPerBlock)
    attention_kernel(const float* __restrict__ q, long long ldq, int T, int pos_arg, const float* __restrict__ K,
                     const float* __restrict__ V, int heads, int kv_heads, int qk_dim, int v_dim, float scale, int window,
                     const float* __restrict__ sinks, float* __restrict__ out, const int* __restrict__ pos_dev) {
  const int pos0 = pos_dev ? *pos_dev : pos_arg;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int item = blockIdx.x * kWarpsPerBlock + warp;
  if (item >= T * heads) return;
  const int t = item / heads, h = item % heads;
  const int kvh = h / (heads / kv_heads);
  const int pos = pos0 + t;
  const int first = window > 0 ? max(0, pos - window + 1) : 0;
  const float* qh = q + t * ldq + (long long)h * qk_dim;
  const long long kstride = (long long)kv_heads * qk_dim, vstride = (long long)kv_heads * v_dim;

  // A sink behaves like one extra score with value sinks[h] and no value vector.
  float m = sinks ? sinks[h] : -INFINITY;
  float l = sinks ? 1.0f : 0.0f;
  float acc[VPL];
#pragma unroll
  for (int i = 0; i < VPL; ++i) acc[i] = 0.0f;

  for (int base = first; base <= pos; base += 32) {
    const int j = base + lane;
    float s = -INFINITY;
    if (j <= pos) {
      const float* kj = K + j * kstride + (long long)kvh * qk_dim;
      float dot = 0.0f;
      for (int d = 0; d < qk_dim; ++d) dot = fmaf(qh[d], kj[d], dot);
      s = dot * scale;
    }
    const float m_new = fmaxf(m, warp_max(s));
    const float corr = expf(m - m_new);
    const float p = j <= pos ? expf(s - m_new) : 0.0f;
    l = l * corr + warp_sum(p);
#pragma unroll
    for (int i = 0; i < VPL; ++i) acc[i] *= corr;
    const int n = min(32, pos - base + 1);
    for (int jj = 0; jj < n; ++jj) {
      const float pj = __shfl_sync(0xffffffffu, p, jj);
      const float* vj = V + (long long)(base + jj) * vstride + (long long)kvh * v_dim;
#pragma unroll
      for (int i = 0; i < VPL; ++i) {
        const int d = lane + 32 * i;
        if (d < v_dim) acc[i] = fmaf(pj, vj[d], acc[i]);
      }
    }
    m = m_new;
  }
  float* o = out + (long long)t * heads * v_dim + (long long)h * v_dim;
#pragma unroll
  for (int i = 0; i < VPL; ++i) {
    const int d = lane + 32 * i;
    if (d < v_dim) o[d] = acc[i] / l;
  }
}

__global__ void mla_fill_kernel(const float* __restrict__ kvb, const float* __restrict__ k_rot, long long ld_k_rot,
                                int pos_arg, int heads, int nope, int rope, int vd, float* kc, float* vc,
                                const int* __restrict__ pos_dev) {
  const int pos0 = pos_dev ? *pos_dev : pos_arg;
  const int t = blockIdx.x / heads, h = blockIdx.x % heads;
  const int qk = nope + rope;
  const float* src = kvb + (long long)t * heads * (nope + vd) + (long long)h * (nope + vd);
  const float* kr = k_rot + t * ld_k_rot;
  float* kd = kc + (long long)(pos0 + t) * heads * qk + (long long)h * qk;
  float* vdst = vc + (long long)(pos0 + t) * heads * vd + (long long)h * vd;
  for (int i = threadIdx.x; i < qk; i += blockDim.x) kd[i] = i < nope ? src[i] : kr[i - nope];
  for (int i = threadIdx.x; i < vd; i += blockDim.x) vdst[i] = src[nope + i];
}

// KV cache store of T rows of `dim` floats at position pos0 (GQA).
__global__ void kv_store_kernel(const float* __restrict__ src, int dim, int pos_arg, float* cache,
                                const int* __restrict__ pos_dev) {
  const int pos0 = pos_dev ? *pos_dev : pos_arg;
  const float* s = src + (long long)blockIdx.x * dim;
  float* d = cache + (long long)(pos0 + blockIdx.x) * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) d[i] = s[i];
}

}  // namespace

void launch_kv_store(const float* src, int T, int dim, int pos0, float* cache, cudaStream_t s, const int* pos_dev) {
  if (T <= 0) return;
  kv_store_kernel<<<T, 256, 0, s>>>(src, dim, pos0, cache, pos_dev);
  MOESCOPE_CUDA_LAUNCHED();
}

void launch_attention(const float* q, int64_t ldq, int T, int pos0, const float* K, const float* V, int heads, int kv_heads,
                      int qk_dim, int v_dim, float scale, int window, const float* sinks, float* out, cudaStream_t s,
                      const int* pos_dev) {
  if (T <= 0) return;
  if (kv_heads <= 0 || heads % kv_heads != 0) throw Error("attention: heads must be a multiple of kv heads");
  const unsigned blocks = ceil_div((long long)T * heads, kWarpsPerBlock);
  const dim3 threads(32 * kWarpsPerBlock);
#define MOESCOPE_ATTN(VPL) \
  attention_kernel<VPL><<<blocks, threads, 0, s>>>(q, ldq, T, pos0, K, V, heads, kv_heads, qk_dim, v_dim, scale, window, sinks, out, pos_dev)
  if (v_dim <= 32)
    MOESCOPE_ATTN(1);
  else if (v_dim <= 64)
    MOESCOPE_ATTN(2);
  else if (v_dim <= 128)
    MOESCOPE_ATTN(4);
  else if (v_dim <= 256)
    MOESCOPE_ATTN(8);
  else
    throw Error("attention: value head dim " + std::to_string(v_dim) + " exceeds the CUDA kernel's 256");
#undef MOESCOPE_ATTN
  MOESCOPE_CUDA_LAUNCHED();
}

void launch_mla_fill_cache(const float* kvb, const float* k_rot, int64_t ld_k_rot, int T, int pos0, int heads, int nope,
                           int rope, int vd, float* kcache, float* vcache, cudaStream_t s, const int* pos_dev) {
  if (T <= 0) return;
  mla_fill_kernel<<<T * heads, 128, 0, s>>>(kvb, k_rot, ld_k_rot, pos0, heads, nope, rope, vd, kcache, vcache, pos_dev);
  MOESCOPE_CUDA_LAUNCHED();
}

}  // namespace moescope::cuda
