// Attention over the device KV cache (causal, grouped-query, optional sliding window and GPT-OSS
// sinks) and the KV cache stores (GQA rows, MLA expansion). Host-includable; kernels in attention.cu
// mirror CpuBackend::attend. pos_dev (every launcher): when not null, pos0 is read from the device, so
// a captured CUDA graph of a decode step replays at any position.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope::cuda {

// out[t, h*v_dim ..] = softmax(q k^T * scale) v over cached positions [first, pos0 + t] (first = 0, or
// the window start), with the sink logit sinks[h] in the denominator when sinks != null.
// K: [ctx, kv_heads*qk_dim], V: [ctx, kv_heads*v_dim]. v_dim <= 256.
void launch_attention(const float* q, int64_t ldq, int T, int pos0, const float* K, const float* V, int heads, int kv_heads,
                      int qk_dim, int v_dim, float scale, int window, const float* sinks, float* out, cudaStream_t s,
                      const int* pos_dev = nullptr);

// DeepSeek MLA: writes the expanded per-head keys [nope | rope] and values of tokens [pos0, pos0+T)
// into the cache from kv_b output rows [T, heads*(nope+vd)] and the roped shared key part.
void launch_mla_fill_cache(const float* kvb, const float* k_rot, int64_t ld_k_rot, int T, int pos0, int heads, int nope,
                           int rope, int vd, float* kcache, float* vcache, cudaStream_t s, const int* pos_dev = nullptr);

// GQA: cache rows [pos0, pos0+T) = src [T, dim].
void launch_kv_store(const float* src, int T, int dim, int pos0, float* cache, cudaStream_t s,
                     const int* pos_dev = nullptr);

}  // namespace moescope::cuda
