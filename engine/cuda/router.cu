// Router kernels: one thread per token runs the family rule exactly as engine/routing/native.cpp does
// (selection by repeated arg-max, so equal scores go to the lower expert like torch.topk), and one
// block builds the expert -> token lists used by the grouped expert kernels.
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_common.cuh"
#include "engine/cuda/router.cuh"
#include "engine/model/model_config.h"

namespace moescope::cuda {

namespace {

// The k largest of v[0..n), best first; ties keep the lower index first.
__device__ void select_topk(const float* v, int n, int k, int32_t* out) {
  for (int j = 0; j < k; ++j) {
    int best = -1;
    float bv = 0.0f;
    for (int e = 0; e < n; ++e) {
      bool taken = false;
      for (int i = 0; i < j; ++i) taken = taken || out[i] == e;
      if (taken) continue;
      if (best < 0 || v[e] > bv) {
        best = e;
        bv = v[e];
      }
    }
    out[j] = best;
  }
}

__global__ void route_native_kernel(const float* __restrict__ logits, int T, RouterParams p, int32_t* experts,
                                    float* weights, float* scratch) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= T) return;
  const int E = p.num_experts, k = p.k;
  const float* lg = logits + (long long)t * E;
  float* s = scratch + (long long)t * 2 * E;
  float* c = s + E;
  int32_t* ex = experts + (long long)t * k;
  float* w = weights + (long long)t * k;

  if (p.scoring == DeviceScoring::SoftmaxTopK || p.scoring == DeviceScoring::SoftmaxGroupTopK) {
    float mx = lg[0];
    for (int e = 1; e < E; ++e) mx = fmaxf(mx, lg[e]);
    float sum = 0.0f;
    for (int e = 0; e < E; ++e) {
      s[e] = expf(lg[e] - mx);
      sum += s[e];
    }
    for (int e = 0; e < E; ++e) {
      s[e] /= sum;
      c[e] = s[e] + (p.correction_bias ? p.correction_bias[e] : 0.0f);  // ERNIE chooses on p + bias
    }
    const int G = p.scoring == DeviceScoring::SoftmaxGroupTopK ? max(1, p.n_group) : 1;
    if (G > 1) {  // DeepSeek-V2 group_limited_greedy: group score = its largest probability
      const int per = E / G;
      const int keep = min(max(p.topk_group, 1), G);
      float gscore[kMaxRouterGroups];
      int32_t gsel[kMaxRouterGroups];
      for (int g = 0; g < G; ++g) {
        float best = s[g * per];
        for (int i = 1; i < per; ++i) best = fmaxf(best, s[g * per + i]);
        gscore[g] = best;
      }
      select_topk(gscore, G, keep, gsel);
      for (int e = 0; e < E; ++e) {
        bool kept = false;
        for (int i = 0; i < keep; ++i) kept = kept || gsel[i] == e / per;
        if (!kept) c[e] = 0.0f;
      }
    }
    select_topk(c, E, k, ex);
    float ws = 0.0f;
    for (int j = 0; j < k; ++j) {
      w[j] = s[ex[j]];
      ws += w[j];
    }
    if (p.renormalise) {
      const float denom = fmaxf(ws, p.norm_min);
      for (int j = 0; j < k; ++j) w[j] /= denom;
    }
    if (p.routed_scaling_factor != 1.0f)
      for (int j = 0; j < k; ++j) w[j] *= p.routed_scaling_factor;
  } else if (p.scoring == DeviceScoring::SigmoidGroupTopK) {
    for (int e = 0; e < E; ++e) {
      s[e] = 1.0f / (1.0f + expf(-lg[e]));
      c[e] = s[e] + (p.correction_bias ? p.correction_bias[e] : 0.0f);
    }
    const int G = max(1, p.n_group);
    const int per = E / G;
    const int keep = min(max(p.topk_group, 1), G);
    float gscore[kMaxRouterGroups];
    int32_t gsel[kMaxRouterGroups];
    for (int g = 0; g < G; ++g) {
      const float* v = c + g * per;
      if (per >= 2) {
        float a = -INFINITY, b = -INFINITY;
        for (int i = 0; i < per; ++i) {
          if (v[i] > a) {
            b = a;
            a = v[i];
          } else if (v[i] > b) {
            b = v[i];
          }
        }
        gscore[g] = a + b;
      } else {
        gscore[g] = v[0];
      }
    }
    select_topk(gscore, G, keep, gsel);
    for (int e = 0; e < E; ++e) {
      bool kept = false;
      for (int i = 0; i < keep; ++i) kept = kept || gsel[i] == e / per;
      if (!kept) c[e] = -INFINITY;  // DeepseekV3TopkRouter: masked_fill(..., -inf)
    }
    select_topk(c, E, k, ex);
    float ws = 0.0f;
    for (int j = 0; j < k; ++j) {
      w[j] = s[ex[j]];
      ws += w[j];
    }
    if (p.norm_topk_prob) {
      const float denom = ws + 1e-20f;
      for (int j = 0; j < k; ++j) w[j] /= denom;
    }
    for (int j = 0; j < k; ++j) w[j] *= p.routed_scaling_factor;
  } else {  // TopKSoftmax
    select_topk(lg, E, k, ex);
    const float mx = lg[ex[0]];
    float sum = 0.0f;
    for (int j = 0; j < k; ++j) {
      w[j] = expf(lg[ex[j]] - mx);
      sum += w[j];
    }
    for (int j = 0; j < k; ++j) w[j] /= sum;
  }
}

__device__ bool token_has_expert(const int32_t* row, int k, int e) {
  for (int j = 0; j < k; ++j)
    if (row[j] == e) return true;
  return false;
}

__global__ void build_lists_kernel(const int32_t* __restrict__ experts, const uint8_t* __restrict__ dropped, int T, int k,
                                   int E, int32_t* counts, int32_t* offsets, int32_t* active, int32_t* n_active,
                                   int32_t* pair_tok, int32_t* slot_pair) {
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    int n = 0;
    for (int t = 0; t < T; ++t)
      if (!(dropped && dropped[t]) && token_has_expert(experts + (long long)t * k, k, e)) ++n;
    counts[e] = n;
  }
  for (long long i = threadIdx.x; i < (long long)T * k; i += blockDim.x) slot_pair[i] = -1;
  __syncthreads();
  if (threadIdx.x == 0) {
    int off = 0, na = 0;
    for (int e = 0; e < E; ++e) {
      offsets[e] = off;
      if (counts[e] > 0) active[na++] = e;
      off += counts[e];
    }
    offsets[E] = off;
    *n_active = na;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    int p = offsets[e];
    for (int t = 0; t < T; ++t) {
      if (dropped && dropped[t]) continue;
      const int32_t* row = experts + (long long)t * k;
      for (int j = 0; j < k; ++j) {
        if (row[j] != e) continue;
        pair_tok[p] = t;
        slot_pair[(long long)t * k + j] = p;
        ++p;
        break;  // an expert counts once per token
      }
    }
  }
}

}  // namespace

RouterParams native_router_params(const ModelConfig& c, int num_experts, int k) {
  RouterParams p;
  p.num_experts = num_experts;
  p.k = k;
  switch (c.scoring) {
    case RouterScoring::SoftmaxTopK: p.scoring = DeviceScoring::SoftmaxTopK; break;
    case RouterScoring::SoftmaxGroupTopK: p.scoring = DeviceScoring::SoftmaxGroupTopK; break;
    case RouterScoring::SigmoidGroupTopK: p.scoring = DeviceScoring::SigmoidGroupTopK; break;
    case RouterScoring::TopKSoftmax: p.scoring = DeviceScoring::TopKSoftmax; break;
    case RouterScoring::SparseMixer:
      throw Error(c.config_path + ": the sparsemixer router is not implemented on the CUDA backend");
  }
  p.renormalise = c.norm_topk_prob || c.family == Family::Mixtral;
  p.n_group = c.n_group;
  p.topk_group = c.topk_group;
  p.norm_topk_prob = c.norm_topk_prob;
  p.routed_scaling_factor = c.routed_scaling_factor;
  p.norm_min = c.router_norm_min;
  return p;
}

void launch_route_native(const float* logits, int T, const RouterParams& p, int32_t* experts, float* weights,
                         float* scratch, cudaStream_t s) {
  if (T <= 0) return;
  if (p.k < 1 || p.k > p.num_experts) throw Error("device router: k=" + std::to_string(p.k) + " outside 1.." + std::to_string(p.num_experts));
  if (p.scoring == DeviceScoring::SigmoidGroupTopK || p.scoring == DeviceScoring::SoftmaxGroupTopK) {
    const int G = p.n_group < 1 ? 1 : p.n_group;
    if (G > kMaxRouterGroups || p.num_experts % G != 0)
      throw Error("device router: " + std::to_string(p.num_experts) + " experts in n_group=" + std::to_string(G) +
                  " groups is not supported");
  }
  route_native_kernel<<<ceil_div(T, 64), 64, 0, s>>>(logits, T, p, experts, weights, scratch);
  MOESCOPE_CUDA_LAUNCHED();
}

void launch_build_expert_lists(const int32_t* experts, const uint8_t* dropped, int T, int k, int E, int32_t* counts,
                               int32_t* offsets, int32_t* active, int32_t* n_active, int32_t* pair_tok,
                               int32_t* slot_pair, cudaStream_t s) {
  if (T <= 0 || k <= 0) return;
  build_lists_kernel<<<1, 256, 0, s>>>(experts, dropped, T, k, E, counts, offsets, active, n_active, pair_tok, slot_pair);
  MOESCOPE_CUDA_LAUNCHED();
}

}  // namespace moescope::cuda
