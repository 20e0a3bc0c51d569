// Backend set-up shared by the CPU reference and the CUDA backend (engine/cpu/backend_setup.cpp).
#pragma once
#include <vector>

#include "engine/model/model_config.h"
#include "engine/model/model_weights.h"

namespace moescope::cpu {

// Every matrix has the shape the config implies (kdim/vdim: widths of the K and V projections);
// throws Error naming the tensor otherwise.
void validate_weights(const ModelConfig& c, const ModelWeights& w, int kdim, int vdim);
// cos/sin [ctx, rot_dim/2] (attention factor folded in) for the config's RoPE type.
void build_rope_tables(const ModelConfig& c, int rot_dim, int ctx, std::vector<float>& cos, std::vector<float>& sin);
// The context a backend may reserve: `requested` (> 0: what the caller asked for), else `fallback`. longrope
// models switch to their long factors, for every position, once a sequence passes original_max_position_embeddings
// (transformers recomputes the whole sequence then); only the short factors are implemented, so the context stops
// there: a larger explicit request is an Error naming the config.
int context_limit(const ModelConfig& c, int requested, int fallback);
// Softmax scale of attention logits (MLA: (nope+rope)^-0.5, times yarn mscale^2 when configured).
float attention_scale(const ModelConfig& c);

}  // namespace moescope::cpu
