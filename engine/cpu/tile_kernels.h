// Internal: register-tiled kernels for batches of tokens (prefill), behind cpu::linear.
// y[t * ldy + r] = dot(x + t * ldx, w + r * K) for r < R consecutive weight rows, t < T tokens.
// Each weight chunk is widened once per three (AVX2) or six (AVX-512) tokens and each activation chunk is
// reused by four weight rows, so a batch costs far fewer loads than one-row-at-a-time dots
// (dot_kernels.h), which remain the path for a single token (decode), where reading weights is the cost.
#pragma once
#include <cstddef>
#include <cstdint>

namespace moescope::cpu::detail {

using TileRowsFn = void (*)(const float* x, int64_t ldx, int T, const void* w, int64_t K, int R, float* y, int64_t ldy);

struct TileTable {
  TileRowsFn f32 = nullptr;
  TileRowsFn bf16 = nullptr;
  TileRowsFn f16 = nullptr;
};

// Null when the CPU lacks AVX2/FMA/F16C.
const TileTable* avx2_tile_table();
// Null when the CPU lacks AVX512F/BW/VL (tile_kernels_avx512.cpp). Its functions hand batches of at least
// kBroadcastMinTokens tokens to the broadcast kernels below, except a remainder of under 8 tokens.
const TileTable* avx512_tile_table();

// Tokens along the lanes, weights broadcast (tile_kernels_avx512_broadcast.cpp): the faster kernel when a
// batch fills 16-token vectors; any T works (the last vector is padded). Null without AVX512F/BW/VL.
const TileTable* avx512_broadcast_table();
constexpr int kBroadcastMinTokens = 32;

}  // namespace moescope::cpu::detail
