// Internal: batched activations re-strided for the tile kernels (tile_kernels_*.cpp).
// Activation rows whose stride is a multiple of 1 KiB (fp32 hidden sizes 1024, 2048, 4096, 7168, ...)
// start in the same few L1 sets, and so do their columns at every step of K. Six such rows streaming
// next to four weight rows overflow an 8-way L1 (Skylake-SP), and every step misses. Copying them to a
// buffer whose stride is one cache line longer spreads them over the sets: OLMoE expert shapes went from
// 38-42 to 50-58 GFLOP/s per core on the Xeon of docs/performance.md. The copy is a plain memcpy (the
// values and the order of the sums are unchanged) and costs one pass over the chunk's activations,
// against `rows` passes of the kernel.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace moescope::cpu::detail {

struct ActivationRows {
  const float* x;
  int64_t ld;
};

// n floats at a 64-byte boundary inside `buf`, which grows when it is too small and is otherwise reused
// (the kernels keep one per thread, so batches after the largest one allocate nothing).
inline float* aligned_scratch(std::vector<float>& buf, size_t n) {
  if (buf.size() < n + 16) buf.resize(n + 16);
  return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t(63));
}

inline ActivationRows spread_over_l1_sets(const float* x, int64_t ldx, int T, int64_t K) {
  if ((ldx * int64_t(sizeof(float))) % 1024 != 0 || T < 2) return {x, ldx};
  const int64_t ld = ((K + 15) & ~int64_t(15)) + 16;  // 64-byte rows, then one more cache line
  thread_local std::vector<float> buf;
  float* base = aligned_scratch(buf, size_t(T) * size_t(ld));
  for (int t = 0; t < T; ++t) std::memcpy(base + int64_t(t) * ld, x + int64_t(t) * ldx, size_t(K) * sizeof(float));
  return {base, ld};
}

}  // namespace moescope::cpu::detail
