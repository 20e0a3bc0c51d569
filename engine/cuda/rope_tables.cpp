// RoPE tables and the attention scale for the CUDA backend, computed on the host exactly as
// CpuBackend does (engine/cpu/cpu_backend.cpp), so both backends rotate with identical numbers.
#include <algorithm>
#include <cmath>

#include "engine/cuda/cuda_backend.h"
#include "engine/util/error.h"

namespace moescope::cuda {

namespace {

double yarn_get_mscale(double scale, double mscale) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

}  // namespace

float attention_scale(const ModelConfig& c) {
  if (c.attention == AttentionKind::MLA) {
    float s = float(1.0 / std::sqrt(double(c.qk_nope_head_dim + c.qk_rope_head_dim)));
    if (c.rope.type == "yarn" && c.rope.mscale_all_dim != 0) {
      const double m = yarn_get_mscale(c.rope.factor, c.rope.mscale_all_dim);
      s = float(double(s) * m * m);
    }
    return s;
  }
  return float(1.0 / std::sqrt(double(c.head_dim)));
}

void build_rope_tables(const ModelConfig& c, int rot_dim, int ctx, std::vector<float>& cos, std::vector<float>& sin) {
  const RopeConfig& r = c.rope;
  const int half = rot_dim / 2;
  std::vector<float> inv(size_t(std::max(half, 1)));
  const float base = float(r.theta);
  for (int i = 0; i < half; ++i) inv[size_t(i)] = 1.0f / std::pow(base, float(2 * i) / float(rot_dim));
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
    auto correction_dim = [&](double rot) { return (rot_dim * std::log(orig / (rot * 2 * M_PI))) / (2 * std::log(r.theta)); };
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

}  // namespace moescope::cuda
