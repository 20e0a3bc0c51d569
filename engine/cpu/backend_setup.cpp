// Set-up every backend shares, so CPU and CUDA reject the same models and rotate with identical
// numbers: weight shape checks, RoPE tables (transformers' rope init in fp32) and the attention scale.
#include "engine/cpu/backend_setup.h"

#include <algorithm>
#include <cmath>

#include "engine/cpu/kernels.h"
#include "engine/util/error.h"

namespace moescope::cpu {

namespace {

double yarn_get_mscale(double scale, double mscale) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

}  // namespace

void validate_weights(const ModelConfig& c, const ModelWeights& w, int kdim, int vdim) {
  const int64_t H = c.hidden_size;
  check_matrix(w.embed, c.vocab_size, H);
  check_matrix(w.lm_head, c.vocab_size, H);
  for (int l = 0; l < c.num_layers; ++l) {
    const LayerWeights& L = w.layers[size_t(l)];
    const AttentionWeights& a = L.attn;
    if (c.attention == AttentionKind::MLA) {
      const int qk = c.qk_nope_head_dim + c.qk_rope_head_dim;
      if (c.q_lora_rank > 0) {
        check_matrix(a.q_a, c.q_lora_rank, H);
        check_matrix(a.q_b, int64_t(c.num_heads) * qk, c.q_lora_rank);
      } else {
        check_matrix(a.q, int64_t(c.num_heads) * qk, H);
      }
      check_matrix(a.kv_a, c.kv_lora_rank + c.qk_rope_head_dim, H);
      check_matrix(a.kv_b, int64_t(c.num_heads) * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank);
      check_matrix(a.o, H, int64_t(c.num_heads) * c.v_head_dim);
    } else {
      check_matrix(a.q, int64_t(c.num_heads) * c.head_dim, H);
      check_matrix(a.k, kdim, H);
      check_matrix(a.v, vdim, H);
      check_matrix(a.o, H, int64_t(c.num_heads) * c.head_dim);
    }
    if (L.is_moe) {
      check_matrix(L.moe.router, c.num_experts, H);
      if (int(L.moe.experts.size()) != c.num_experts)
        throw Error("layer " + std::to_string(l) + ": " + std::to_string(L.moe.experts.size()) + " experts bound, config says " +
                    std::to_string(c.num_experts));
      for (const auto& e : L.moe.experts) {
        check_matrix(e.gate, -1, H);
        check_matrix(e.up, e.gate.rows(), H);
        check_matrix(e.down, H, e.gate.rows());
      }
      if (L.moe.shared.gate.valid()) {
        check_matrix(L.moe.shared.up, L.moe.shared.gate.rows(), H);
        check_matrix(L.moe.shared.down, H, L.moe.shared.gate.rows());
      }
      if (L.moe.shared_gate.valid()) check_matrix(L.moe.shared_gate, 1, H);
    } else {
      check_matrix(L.mlp.gate, -1, H);
      check_matrix(L.mlp.up, L.mlp.gate.rows(), H);
      check_matrix(L.mlp.down, H, L.mlp.gate.rows());
    }
  }
}

// Follows transformers' rope init functions in fp32 where they compute in fp32, so long positions
// round the same way.
void build_rope_tables(const ModelConfig& c, int rot_dim, int ctx, std::vector<float>& cos, std::vector<float>& sin) {
  const RopeConfig& r = c.rope;
  const int half = rot_dim / 2;
  std::vector<float> inv(size_t(std::max(half, 1)));
  const float base = float(r.theta);
  for (int i = 0; i < half; ++i) {
    const float e = float(2 * i) / float(rot_dim);
    inv[size_t(i)] = 1.0f / std::pow(base, e);
  }
  float attention_factor = 1.0f;
  if (r.type == "linear") {
    for (auto& f : inv) f = f / float(r.factor);
  } else if (r.type == "yarn") {
    const double factor = r.factor;
    const double orig = r.original_max_position > 0 ? r.original_max_position : double(c.max_position_embeddings);
    if (r.attention_factor > 0)
      attention_factor = float(r.attention_factor);
    else if (r.mscale != 0 && r.mscale_all_dim != 0)
      attention_factor = float(yarn_get_mscale(factor, r.mscale) / yarn_get_mscale(factor, r.mscale_all_dim));
    else
      attention_factor = float(yarn_get_mscale(factor, 1.0));
    auto correction_dim = [&](double rot) {
      return (rot_dim * std::log(orig / (rot * 2 * M_PI))) / (2 * std::log(r.theta));
    };
    double low = correction_dim(r.beta_fast);
    double high = correction_dim(r.beta_slow);
    if (r.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, double(rot_dim - 1));
    if (low == high) high += 0.001;
    for (int i = 0; i < half; ++i) {
      const float pos_freq = std::pow(base, float(2 * i) / float(rot_dim));
      const float extrap = 1.0f / pos_freq;
      const float interp = 1.0f / (float(factor) * pos_freq);
      float ramp = (float(i) - float(low)) / (float(high) - float(low));
      ramp = std::clamp(ramp, 0.0f, 1.0f);
      const float extrap_factor = 1.0f - ramp;
      inv[size_t(i)] = interp * (1.0f - extrap_factor) + extrap * extrap_factor;
    }
  } else if (r.type == "longrope") {
    // transformers' _compute_longrope_parameters for sequences up to original_max_position_embeddings (the
    // backends cap the context there, see context_limit): 1 / (short_factor[i] * base^(2i/dim)) in fp32;
    // cos/sin times short_mscale (PhiMoE's rotary embedding), else attention_factor, else
    // sqrt(1 + ln(max_position / original) / ln(original)).
    if (int(r.short_factor.size()) != half)
      throw Error(c.config_path + ": longrope factors have " + std::to_string(r.short_factor.size()) +
                  " entries, the rotary dimension " + std::to_string(rot_dim) + " needs " + std::to_string(half));
    for (int i = 0; i < half; ++i) {
      const float e = float(2 * i) / float(rot_dim);
      inv[size_t(i)] = 1.0f / (float(r.short_factor[size_t(i)]) * std::pow(base, e));
    }
    if (r.short_mscale > 0) {
      attention_factor = float(r.short_mscale);
    } else if (r.attention_factor > 0) {
      attention_factor = float(r.attention_factor);
    } else {
      const double orig = r.original_max_position;
      const double factor = c.max_position_embeddings > 0 ? c.max_position_embeddings / orig : 1.0;
      attention_factor = factor <= 1.0 ? 1.0f : float(std::sqrt(1.0 + std::log(factor) / std::log(orig)));
    }
  } else if (r.type != "default" && !r.type.empty()) {
    throw Error(c.config_path + ": rope type '" + r.type + "' is not implemented");
  }
  cos.assign(size_t(ctx) * half, 0.0f);
  sin.assign(size_t(ctx) * half, 0.0f);
  for (int p = 0; p < ctx; ++p) {
    for (int i = 0; i < half; ++i) {
      const float angle = inv[size_t(i)] * float(p);  // fp32 product, as torch computes freqs
      cos[size_t(p) * half + i] = float(std::cos(double(angle))) * attention_factor;
      sin[size_t(p) * half + i] = float(std::sin(double(angle))) * attention_factor;
    }
  }
}

int context_limit(const ModelConfig& c, int requested, int fallback) {
  int ctx = requested > 0 ? requested : fallback;
  if (c.rope.type == "longrope" && c.rope.original_max_position > 0 && ctx > int(c.rope.original_max_position)) {
    const int limit = int(c.rope.original_max_position);
    if (requested > 0)
      throw Error(c.config_path + ": a context of " + std::to_string(requested) + " positions needs longrope's long factors (beyond " +
                  std::to_string(limit) + " = original_max_position_embeddings), which are not implemented; at most " +
                  std::to_string(limit));
    ctx = limit;
  }
  return ctx;
}

float attention_scale(const ModelConfig& c) {
  if (c.attention == AttentionKind::MLA) {
    float s = float(1.0 / std::sqrt(double(c.qk_nope_head_dim + c.qk_rope_head_dim)));
    if (c.rope.type == "yarn" && c.rope.mscale_all_dim != 0) {
      const double m = yarn_get_mscale(c.rope.factor, c.rope.mscale_all_dim);
      s = float(double(s) * m * m);
    }
    return s;
  }
  if (c.attention_multiplier > 0) return c.attention_multiplier;  // Granite
  return float(1.0 / std::sqrt(double(c.head_dim)));
}

}  // namespace moescope::cpu
