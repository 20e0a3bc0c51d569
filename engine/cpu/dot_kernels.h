// Internal: row-dot primitives behind cpu::linear, one per weight dtype and instruction set.
// y[t * ldy] = dot(x + t * ldx, w) for t < T, where w is one weight row of K elements.
#pragma once
#include <cstddef>
#include <cstdint>

namespace moescope::cpu::detail {

using DotRowsFn = void (*)(const float* x, int64_t ldx, int T, const void* w, int64_t K, float* y, int64_t ldy);

struct DotTable {
  DotRowsFn f32 = nullptr;
  DotRowsFn bf16 = nullptr;
  DotRowsFn f16 = nullptr;
};

const DotTable& scalar_table();
// Null when the CPU lacks AVX2/FMA/F16C.
const DotTable* avx2_table();

}  // namespace moescope::cpu::detail
