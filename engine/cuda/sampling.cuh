// Greedy sampling on the device: arg-max of each logits row (ties to the lower id, like the host
// sampler's greedy mode). Host-includable; kernel in sampling.cu.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope::cuda {

void launch_argmax_rows(const float* logits, int rows, int vocab, int32_t* out, cudaStream_t s);

}  // namespace moescope::cuda
