// Kernels for RMSNorm (double accumulation like the CPU reference), RoPE (rotate-half and
// interleaved), clip and the embedding lookup.
#include <algorithm>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_common.cuh"
#include "engine/cuda/norm_rope.cuh"

namespace moescope::cuda {

namespace {

__global__ void rmsnorm_kernel(const float* x,  // may alias y (in-place norms)
                               long long ldx, int n, const float* __restrict__ w,
                               float eps, float* y, long long ldy) {
  __shared__ double partial[32];
  const float* xr = x + blockIdx.x * ldx;
  float* yr = y + blockIdx.x * ldy;
  double ss = 0.0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) ss += double(xr[i]) * double(xr[i]);
  for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (lane == 0) partial[warp] = ss;
  __syncthreads();
  if (warp == 0) {
    double v = lane < (blockDim.x >> 5) ? partial[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) partial[0] = v;
  }
  __syncthreads();
  const float var = float(partial[0] / double(n));
  const float r = 1.0f / sqrtf(var + eps);
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = xr[i] * r;
    yr[i] = w ? w[i] * v : v;
  }
}

// One block per (token, head) vector; the vector is staged in shared memory so the interleaved
// layout can be rewritten in place.
__global__ void rope_kernel(float* v, long long ld_token, int heads, int head_stride, int offset, int rot_dim, int pos_arg,
                            const float* __restrict__ cosv, const float* __restrict__ sinv, int interleaved,
                            const int* __restrict__ pos_dev) {
  const int pos0 = pos_dev ? *pos_dev : pos_arg;
  extern __shared__ float buf[];
  const int t = blockIdx.x / heads, h = blockIdx.x % heads;
  float* p = v + t * ld_token + (long long)h * head_stride + offset;
  const int half = rot_dim / 2;
  const float* cs = cosv + (long long)(pos0 + t) * half;
  const float* sn = sinv + (long long)(pos0 + t) * half;
  for (int i = threadIdx.x; i < rot_dim; i += blockDim.x) buf[i] = p[i];
  __syncthreads();
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    const float a = interleaved ? buf[2 * i] : buf[i];
    const float b = interleaved ? buf[2 * i + 1] : buf[i + half];
    p[i] = a * cs[i] - b * sn[i];
    p[i + half] = b * cs[i] + a * sn[i];
  }
}

__global__ void clamp_kernel(float* v, size_t n, float lim) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    v[i] = fminf(fmaxf(v[i], -lim), lim);
}

__global__ void scale_kernel(float* v, size_t n, float m) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    v[i] = __fmul_rn(v[i], m);
}

__global__ void divide_kernel(float* v, size_t n, float d) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    v[i] = __fdiv_rn(v[i], d);
}

__global__ void add_scaled_kernel(float* x, const float* y, size_t n, float m) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    x[i] = __fadd_rn(x[i], __fmul_rn(y[i], m));
}

unsigned elementwise_blocks(size_t n) { return unsigned(std::min<size_t>((n + 255) / 256, 4096)); }

template <class W>
__global__ void embed_kernel(const W* __restrict__ table, int cols, const int32_t* __restrict__ tokens, float* x) {
  const W* row = table + size_t(tokens[blockIdx.x]) * cols;
  float* out = x + size_t(blockIdx.x) * cols;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) out[i] = to_f32(row[i]);
}

}  // namespace

void launch_rmsnorm(const float* x, int64_t ldx, int rows, int n, const float* w, float eps, float* y, int64_t ldy,
                    cudaStream_t s) {
  if (rows <= 0) return;
  const int threads = n >= 1024 ? 1024 : (n >= 256 ? 256 : 64);
  rmsnorm_kernel<<<rows, threads, 0, s>>>(x, ldx, n, w, eps, y, ldy);
  MOESCOPE_CUDA_LAUNCHED();
}

void launch_rope(float* v, int64_t ld_token, int T, int heads, int head_stride, int offset, int rot_dim, int pos0,
                 const float* cos, const float* sin, bool interleaved, cudaStream_t s, const int* pos_dev) {
  if (T <= 0 || heads <= 0 || rot_dim < 2) return;
  rope_kernel<<<T * heads, 64, size_t(rot_dim) * sizeof(float), s>>>(v, ld_token, heads, head_stride, offset, rot_dim,
                                                                     pos0, cos, sin, interleaved ? 1 : 0, pos_dev);
  MOESCOPE_CUDA_LAUNCHED();
}

void launch_clamp(float* v, size_t n, float lim, cudaStream_t s) {
  if (n == 0) return;
  clamp_kernel<<<unsigned(std::min<size_t>((n + 255) / 256, 4096)), 256, 0, s>>>(v, n, lim);
  MOESCOPE_CUDA_LAUNCHED();
}

void launch_scale(float* v, size_t n, float m, cudaStream_t s) {
  if (n == 0) return;
  scale_kernel<<<elementwise_blocks(n), 256, 0, s>>>(v, n, m);
  MOESCOPE_CUDA_LAUNCHED();
}

void launch_divide(float* v, size_t n, float d, cudaStream_t s) {
  if (n == 0) return;
  divide_kernel<<<elementwise_blocks(n), 256, 0, s>>>(v, n, d);
  MOESCOPE_CUDA_LAUNCHED();
}

void launch_add_scaled(float* x, const float* y, size_t n, float m, cudaStream_t s) {
  if (n == 0) return;
  add_scaled_kernel<<<elementwise_blocks(n), 256, 0, s>>>(x, y, n, m);
  MOESCOPE_CUDA_LAUNCHED();
}

void launch_embed(const DMat& E, const int32_t* tokens, int T, float* x, cudaStream_t s) {
  if (T <= 0) return;
  dispatch_wtype(E.type, [&](auto tag) {
    using T_ = decltype(tag);
    embed_kernel<T_><<<T, 256, 0, s>>>(static_cast<const T_*>(E.data), E.cols, tokens, x);
  });
  MOESCOPE_CUDA_LAUNCHED();
}

}  // namespace moescope::cuda
