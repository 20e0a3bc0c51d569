// Every CUDA op family against the CPU reference on the same random inputs (ggml test-backend-ops
// style): continuous outputs compared by normalised mean squared error, expert choices compared as
// sets with near-ties excused (see kTieMargin), arg-max ids exactly. Skips visibly without a device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <array>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "engine/cpu/kernels.h"
#include "engine/model/model_config.h"
#include "engine/routing/strategy.h"
#include "engine/util/half.h"
#include "engine/util/thread_pool.h"
#include "tests/engine/tst_cuda_skip.h"

using namespace moescope;

namespace {

// fp32 accumulation in a different order than the CPU: errors ~1e-7 relative, so NMSE ~1e-13.
constexpr double kMaxNmse = 1e-9;
// Two experts whose router scores differ by less than this may legitimately swap between backends
// (exp/expf differ by an ulp); such swaps are excused when comparing expert sets.
constexpr float kTieMargin = 1e-6f;

double nmse(const std::vector<float>& got, const std::vector<float>& want) {
  EXPECT_EQ(got.size(), want.size());
  double err = 0, ref = 0;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    const double d = double(got[i]) - double(want[i]);
    err += d * d;
    ref += double(want[i]) * double(want[i]);
  }
  return ref > 0 ? err / ref : err;
}

// A tensor owning its bytes, in F32, BF16 or F16, with the exact fp32 values it holds.
struct Owned {
  std::vector<std::byte> bytes;
  std::vector<float> values;  // what the stored elements are worth in fp32
  TensorRef ref;
};

Owned make_tensor(const std::string& name, std::vector<int64_t> shape, DType dt, std::mt19937& rng, float scale = 1.0f) {
  Owned o;
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::normal_distribution<float> dist(0.0f, scale);
  o.values.resize(size_t(n));
  o.bytes.resize(size_t(n) * dtype_size(dt));
  for (int64_t i = 0; i < n; ++i) {
    float v = dist(rng);
    if (dt == DType::F32) {
      std::memcpy(o.bytes.data() + i * 4, &v, 4);
    } else if (dt == DType::BF16) {
      const uint16_t b = f32_to_bf16(v);
      v = bf16_to_f32(b);
      std::memcpy(o.bytes.data() + i * 2, &b, 2);
    } else {  // F16: random sign, exponent 12..16 (about 2^-3 .. 2^1), random mantissa
      const uint16_t b = uint16_t(((rng() & 1u) << 15) | ((12u + rng() % 5u) << 10) | (rng() & 0x3ffu));
      v = fp16_to_f32(b);
      std::memcpy(o.bytes.data() + i * 2, &b, 2);
    }
    o.values[size_t(i)] = v;
  }
  o.ref.name = name;
  o.ref.dtype = dt;
  o.ref.shape = std::move(shape);
  o.ref.data = o.bytes.data();
  o.ref.nbytes = o.bytes.size();
  return o;
}

std::vector<float> random_vec(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

const char* dname(DType d) { return dtype_name(d); }

// ---- linear ------------------------------------------------------------------------------------

TEST(CudaOps, LinearMatchesCpu) {
  MOESCOPE_REQUIRE_CUDA();
  std::mt19937 rng(1);
  ThreadPool pool(1);
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
    for (int K : {96, 50}) {  // 96: 16-byte vector loads; 50: the scalar path
      for (int T : {1, 3, 8, 9, 37}) {  // <= 8: decode kernel; more: widen + cuBLAS
        for (bool with_bias : {false, true}) {
          const int N = 70;
          Owned W = make_tensor("w", {N, K}, dt, rng, 0.2f);
          Owned b = make_tensor("b", {N}, DType::F32, rng);
          const auto x = random_vec(size_t(T) * K, rng);
          std::vector<float> want(size_t(T) * N);
          cpu::linear(pool, x.data(), K, T, W.ref, with_bias ? &b.ref : nullptr, want.data(), N);
          const auto got = cuda_ops::linear(x, T, W.ref, with_bias ? &b.ref : nullptr);
          EXPECT_LT(nmse(got, want), kMaxNmse) << dname(dt) << " K=" << K << " T=" << T << " bias=" << with_bias;
        }
      }
    }
  }
}

// ---- norms and rope --------------------------------------------------------------------------------

TEST(CudaOps, RmsNormMatchesCpu) {
  MOESCOPE_REQUIRE_CUDA();
  std::mt19937 rng(2);
  for (int n : {64, 128, 300, 4096}) {
    for (DType dt : {DType::F32, DType::BF16}) {
      const int rows = 5;
      Owned w = make_tensor("norm", {n}, dt, rng);
      const auto x = random_vec(size_t(rows) * n, rng, 3.0f);
      std::vector<float> want(x.size());
      for (int r = 0; r < rows; ++r) cpu::rmsnorm(x.data() + size_t(r) * n, w.ref, n, 1e-6f, want.data() + size_t(r) * n);
      EXPECT_LT(nmse(cuda_ops::rmsnorm(x, rows, n, w.ref, 1e-6f), want), kMaxNmse) << "n=" << n << " " << dname(dt);
    }
  }
  const auto x = random_vec(3 * 64, rng);
  std::vector<float> want(x.size());
  for (int r = 0; r < 3; ++r) cpu::rmsnorm(x.data() + r * 64, TensorRef{}, 64, 1e-5f, want.data() + r * 64);
  EXPECT_LT(nmse(cuda_ops::rmsnorm(x, 3, 64, TensorRef{}, 1e-5f), want), kMaxNmse) << "no weight";
}

TEST(CudaOps, RopeMatchesCpu) {
  MOESCOPE_REQUIRE_CUDA();
  std::mt19937 rng(3);
  const int T = 4, heads = 3, hd = 64, pos0 = 7, positions = pos0 + T;
  for (int rot : {64, 32}) {  // full and partial rotary
    const int half = rot / 2;
    std::vector<float> cs(size_t(positions) * half), sn(cs.size());
    for (int p = 0; p < positions; ++p)
      for (int i = 0; i < half; ++i) {
        const double a = p * std::pow(10000.0, -2.0 * i / rot);
        cs[size_t(p) * half + i] = float(std::cos(a));
        sn[size_t(p) * half + i] = float(std::sin(a));
      }
    for (bool interleaved : {false, true}) {
      const auto v = random_vec(size_t(T) * heads * hd, rng);
      std::vector<float> want = v, tmp(static_cast<size_t>(rot));
      for (int t = 0; t < T; ++t)
        for (int h = 0; h < heads; ++h) {
          float* p = want.data() + (size_t(t) * heads + h) * hd;
          const float* c = cs.data() + size_t(pos0 + t) * half;
          const float* s = sn.data() + size_t(pos0 + t) * half;
          if (interleaved)
            cpu::rope_interleaved(p, rot, c, s, tmp.data());
          else
            cpu::rope_rotate_half(p, rot, c, s);
        }
      const auto got = cuda_ops::rope(v, T, heads, hd, rot, pos0, cs, sn, interleaved);
      EXPECT_LT(nmse(got, want), kMaxNmse) << "rot=" << rot << " interleaved=" << interleaved;
    }
  }
}

// ---- attention -------------------------------------------------------------------------------------

// Plain double-precision causal attention, independent of both backends.
std::vector<float> attention_ref(const std::vector<float>& q, int T, int pos0, const std::vector<float>& K,
                                 const std::vector<float>& V, int heads, int kv_heads, int qk, int vd, float scale,
                                 int window, const std::vector<float>& sinks) {
  std::vector<float> out(size_t(T) * heads * vd);
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < heads; ++h) {
      const int kvh = h / (heads / kv_heads), pos = pos0 + t;
      const int first = window > 0 ? std::max(0, pos - window + 1) : 0;
      std::vector<double> s;
      double mx = sinks.empty() ? -INFINITY : sinks[size_t(h)];
      for (int j = first; j <= pos; ++j) {
        double d = 0;
        for (int i = 0; i < qk; ++i)
          d += double(q[(size_t(t) * heads + h) * qk + i]) * K[(size_t(j) * kv_heads + kvh) * qk + i];
        s.push_back(d * scale);
        mx = std::max(mx, s.back());
      }
      double sum = sinks.empty() ? 0.0 : std::exp(sinks[size_t(h)] - mx);
      for (auto& v : s) sum += (v = std::exp(v - mx));
      for (int i = 0; i < vd; ++i) {
        double o = 0;
        for (int j = first; j <= pos; ++j) o += s[size_t(j - first)] * V[(size_t(j) * kv_heads + kvh) * vd + i];
        out[(size_t(t) * heads + h) * vd + i] = float(o / sum);
      }
    }
  return out;
}

TEST(CudaOps, AttentionMatchesReference) {
  MOESCOPE_REQUIRE_CUDA();
  std::mt19937 rng(4);
  struct Case {
    int heads, kv_heads, qk, vd, T, pos0, window;
    bool sinks;
  };
  const Case cases[] = {
      {8, 2, 64, 64, 5, 40, 0, false},    // GQA, more than one 32-position chunk
      {8, 2, 64, 64, 1, 70, 16, false},   // decode with a sliding window
      {4, 4, 64, 64, 3, 10, 8, true},     // GPT-OSS sinks + window
      {4, 4, 192, 128, 6, 0, 0, false},   // MLA shapes (prefill from 0)
      {2, 1, 256, 256, 2, 33, 0, false},  // widest value head
      {4, 2, 32, 24, 3, 5, 0, false},     // value dims not a multiple of 32
  };
  for (const Case& c : cases) {
    const int ctx = c.pos0 + c.T;
    const auto q = random_vec(size_t(c.T) * c.heads * c.qk, rng);
    const auto K = random_vec(size_t(ctx) * c.kv_heads * c.qk, rng);
    const auto V = random_vec(size_t(ctx) * c.kv_heads * c.vd, rng);
    const auto sinks = c.sinks ? random_vec(size_t(c.heads), rng) : std::vector<float>{};
    const float scale = 1.0f / std::sqrt(float(c.qk));
    const auto want = attention_ref(q, c.T, c.pos0, K, V, c.heads, c.kv_heads, c.qk, c.vd, scale, c.window, sinks);
    const auto got = cuda_ops::attention(q, c.T, c.pos0, K, V, c.heads, c.kv_heads, c.qk, c.vd, scale, c.window, sinks);
    EXPECT_LT(nmse(got, want), kMaxNmse) << "heads=" << c.heads << " qk=" << c.qk << " vd=" << c.vd << " T=" << c.T
                                         << " pos0=" << c.pos0 << " window=" << c.window << " sinks=" << c.sinks;
  }
}

// ---- router + top-k ------------------------------------------------------------------------------

// Compares per-token expert sets (swaps between experts whose scores are within kTieMargin excused)
// and each expert's weight.
void compare_routes(const std::vector<int32_t>& got_e, const std::vector<float>& got_w, const RoutingDecision& want,
                    const std::vector<float>& score, int E, const std::string& what) {
  const int T = want.tokens, k = want.k_max;
  ASSERT_EQ(got_e.size(), size_t(T) * k) << what;
  for (int t = 0; t < T; ++t) {
    std::map<int, float> g, w;
    for (int j = 0; j < k; ++j) {
      g[got_e[size_t(t) * k + j]] = got_w[size_t(t) * k + j];
      w[want.experts[size_t(t) * k + j]] = want.weights[size_t(t) * k + j];
    }
    ASSERT_EQ(g.size(), size_t(k)) << what << ": token " << t << " got a repeated expert";
    for (auto& [e, wt] : w) {
      if (g.count(e)) {
        EXPECT_NEAR(g[e], wt, 1e-6) << what << ": token " << t << " expert " << e;
        continue;
      }
      // e missing on the device: excused only if some chosen expert there ties with it.
      bool tie = false;
      for (auto& [ge, gw] : g)
        if (!w.count(ge) && std::fabs(score[size_t(t) * E + ge] - score[size_t(t) * E + e]) <= kTieMargin) tie = true;
      EXPECT_TRUE(tie) << what << ": token " << t << " expert " << e << " not chosen on CUDA";
    }
  }
}

TEST(CudaOps, NativeRouterMatchesHostRule) {
  MOESCOPE_REQUIRE_CUDA();
  std::mt19937 rng(5);
  struct Case {
    const char* name;
    RouterScoring scoring;
    Family family;
    int E, k;
    bool norm;
    int groups, topk_groups;
    float scaling;
  };
  const Case cases[] = {
      {"mixtral", RouterScoring::SoftmaxTopK, Family::Mixtral, 8, 2, false, 1, 1, 1.0f},
      {"olmoe", RouterScoring::SoftmaxTopK, Family::OLMoE, 64, 8, false, 1, 1, 1.0f},
      {"qwen3", RouterScoring::SoftmaxTopK, Family::Qwen3Moe, 128, 8, true, 1, 1, 1.0f},
      {"deepseek", RouterScoring::SigmoidGroupTopK, Family::DeepSeekV3, 64, 6, true, 8, 3, 2.5f},
      {"deepseek-1group", RouterScoring::SigmoidGroupTopK, Family::DeepSeekV3, 16, 4, false, 1, 1, 1.0f},
      {"deepseek-v2", RouterScoring::SoftmaxGroupTopK, Family::DeepSeekV2, 160, 6, false, 8, 3, 16.0f},
      {"deepseek-v2-lite", RouterScoring::SoftmaxTopK, Family::DeepSeekV2, 64, 6, false, 1, 1, 1.0f},
      {"ernie-4.5", RouterScoring::SoftmaxTopK, Family::Ernie45Moe, 64, 6, true, 1, 1, 1.0f},
      {"gpt-oss", RouterScoring::TopKSoftmax, Family::GptOss, 32, 4, true, 1, 1, 1.0f},
  };
  for (const Case& c : cases) {
    ModelConfig cfg;
    cfg.family = c.family;
    cfg.scoring = c.scoring;
    cfg.num_experts = c.E;
    cfg.num_experts_per_tok = c.k;
    cfg.norm_topk_prob = c.norm;
    cfg.n_group = c.groups;
    cfg.topk_group = c.topk_groups;
    cfg.routed_scaling_factor = c.scaling;
    if (c.family == Family::Ernie45Moe) cfg.router_norm_min = 1e-12f;
    const int T = 33;
    const auto logits = random_vec(size_t(T) * c.E, rng, 2.0f);
    std::vector<float> bias;
    Owned bias_t;
    if (c.scoring == RouterScoring::SigmoidGroupTopK || c.family == Family::Ernie45Moe) {
      bias_t = make_tensor("e_score_correction_bias", {c.E}, DType::F32, rng, c.family == Family::Ernie45Moe ? 0.02f : 0.1f);
      bias = bias_t.values;
    }
    RouterInput in;
    in.config = &cfg;
    in.tokens = T;
    in.num_experts = c.E;
    in.logits = logits.data();
    in.correction_bias = bias.empty() ? nullptr : &bias_t.ref;
    RoutingDecision want;
    route_native(in, want);
    std::vector<int32_t> got_e;
    std::vector<float> got_w;
    cuda_ops::route_native(cfg, logits, T, bias, got_e, got_w);
    // Selection scores: the logits rank the same as softmax and raw-logit rules; sigmoid + bias for DeepSeek.
    std::vector<float> score = logits;
    if (c.family == Family::Ernie45Moe) {  // softmax + bias
      for (int t = 0; t < T; ++t) {
        float* row = score.data() + size_t(t) * c.E;
        const float mx = *std::max_element(row, row + c.E);
        double sum = 0;
        for (int e = 0; e < c.E; ++e) sum += std::exp(double(row[e] - mx));
        for (int e = 0; e < c.E; ++e) row[e] = float(std::exp(double(row[e] - mx)) / sum) + bias[size_t(e)];
      }
    } else if (!bias.empty())
      for (int t = 0; t < T; ++t)
        for (int e = 0; e < c.E; ++e)
          score[size_t(t) * c.E + e] = 1.0f / (1.0f + std::exp(-logits[size_t(t) * c.E + e])) + bias[size_t(e)];
    compare_routes(got_e, got_w, want, score, c.E, c.name);
  }
}

TEST(CudaOps, RouterTiesGoToTheLowerExpert) {
  MOESCOPE_REQUIRE_CUDA();
  ModelConfig cfg;
  cfg.family = Family::Mixtral;
  cfg.scoring = RouterScoring::SoftmaxTopK;
  cfg.num_experts = 8;
  cfg.num_experts_per_tok = 2;
  const std::vector<float> logits = {0, 1, 3, 0, 3, 0, 3, 0};  // three-way tie: experts 2 and 4 win, like torch.topk
  std::vector<int32_t> e;
  std::vector<float> w;
  cuda_ops::route_native(cfg, logits, 1, {}, e, w);
  EXPECT_EQ(e, (std::vector<int32_t>{2, 4}));
  EXPECT_NEAR(w[0], 0.5f, 1e-6);
  EXPECT_NEAR(w[1], 0.5f, 1e-6);
}

// ---- expert FFN ------------------------------------------------------------------------------------

float silu(double g) { return float(g / (1.0 + std::exp(-g))); }

// x + sum over each token's routed experts (first occurrence, not dropped) + gated shared expert,
// in double precision, independent of both backends.
std::vector<float> moe_ref(const std::vector<float>& x, const std::vector<float>& xn, int T, int H,
                           const std::vector<std::array<Owned*, 3>>& ex, const RoutingDecision& d,
                           const std::array<Owned*, 3>* shared, const Owned* shared_gate, float limit) {
  auto ffn = [&](const std::array<Owned*, 3>& w, const float* in, std::vector<double>& out) {
    const int I = int(w[0]->ref.rows());
    std::vector<double> a(static_cast<size_t>(I));
    for (int i = 0; i < I; ++i) {
      double g = 0, u = 0;
      for (int h = 0; h < H; ++h) {
        g += double(w[0]->values[size_t(i) * H + h]) * in[h];
        u += double(w[1]->values[size_t(i) * H + h]) * in[h];
      }
      if (limit > 0) {
        const double gi = std::min(g, double(limit)), ui = std::clamp(u, -double(limit), double(limit));
        a[size_t(i)] = (ui + 1.0) * gi / (1.0 + std::exp(-gi * 1.702));
      } else {
        a[size_t(i)] = silu(g) * u;
      }
    }
    out.assign(size_t(H), 0.0);
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < I; ++i) out[size_t(h)] += double(w[2]->values[size_t(h) * I + i]) * a[size_t(i)];
  };
  std::vector<float> y = x;
  std::vector<double> o;
  for (int t = 0; t < T; ++t) {
    const float* in = xn.data() + size_t(t) * H;
    std::vector<double> acc(size_t(H), 0.0);
    if (!d.dropped[size_t(t)]) {
      std::set<int> seen;
      for (int j = 0; j < d.k_max; ++j) {
        const int e = d.experts[size_t(t) * d.k_max + j];
        if (e < 0 || !seen.insert(e).second) continue;
        ffn(ex[size_t(e)], in, o);
        for (int h = 0; h < H; ++h) acc[size_t(h)] += d.weights[size_t(t) * d.k_max + j] * o[size_t(h)];
      }
    }
    if (shared) {
      ffn(*shared, in, o);
      double g = 1.0;
      if (shared_gate) {
        double z = 0;
        for (int h = 0; h < H; ++h) z += double(shared_gate->values[size_t(h)]) * in[h];
        g = 1.0 / (1.0 + std::exp(-z));
      }
      for (int h = 0; h < H; ++h) acc[size_t(h)] += g * o[size_t(h)];
    }
    for (int h = 0; h < H; ++h) y[size_t(t) * H + h] += float(acc[size_t(h)]);
  }
  return y;
}

TEST(CudaOps, ExpertFfnMatchesReference) {
  MOESCOPE_REQUIRE_CUDA();
  std::mt19937 rng(6);
  const int E = 8, H = 64, I = 96;
  for (DType dt : {DType::BF16, DType::F32}) {
    std::vector<Owned> store;
    store.reserve(3 * E + 4);
    std::vector<FfnWeights> experts(static_cast<size_t>(E));
    std::vector<std::array<Owned*, 3>> refs(static_cast<size_t>(E));
    for (int e = 0; e < E; ++e) {
      store.push_back(make_tensor("gate", {I, H}, dt, rng, 0.15f));
      store.push_back(make_tensor("up", {I, H}, dt, rng, 0.15f));
      store.push_back(make_tensor("down", {H, I}, dt, rng, 0.15f));
      Owned* p = &store[store.size() - 3];
      experts[size_t(e)].gate = p[0].ref;
      experts[size_t(e)].up = p[1].ref;
      experts[size_t(e)].down = p[2].ref;
      refs[size_t(e)] = {&p[0], &p[1], &p[2]};
    }
    store.push_back(make_tensor("shared.gate", {48, H}, dt, rng, 0.15f));
    store.push_back(make_tensor("shared.up", {48, H}, dt, rng, 0.15f));
    store.push_back(make_tensor("shared.down", {H, 48}, dt, rng, 0.15f));
    store.push_back(make_tensor("shared_gate", {1, H}, dt, rng, 0.3f));
    Owned* s = &store[store.size() - 4];
    FfnWeights shared;
    shared.gate = s[0].ref;
    shared.up = s[1].ref;
    shared.down = s[2].ref;
    const std::array<Owned*, 3> shared_refs = {&s[0], &s[1], &s[2]};

    for (int T : {1, 19}) {
      for (int variant = 0; variant < 3; ++variant) {  // 0: routed only; 1: + gated shared; 2: clamped SwiGLU
        const int k = 3;
        RoutingDecision d;
        d.reset(T, k);
        std::uniform_int_distribution<int> pick(0, E - 1);
        for (int t = 0; t < T; ++t)
          for (int j = 0; j < k; ++j) {
            d.experts[size_t(t) * k + j] = pick(rng);
            d.weights[size_t(t) * k + j] = 0.1f + 0.3f * float(j);
          }
        if (T > 1) {
          d.dropped[3] = 1;                                   // capacity drop: shared only
          d.experts[size_t(5) * k + 2] = -1;                  // a padded slot
          d.experts[size_t(6) * k + 1] = d.experts[size_t(6) * k];  // a repeated expert counts once
        }
        const auto x = random_vec(size_t(T) * H, rng);
        const auto xn = random_vec(size_t(T) * H, rng);
        const bool with_shared = variant == 1;
        const float limit = variant == 2 ? 0.7f : 0.0f;
        const auto want = moe_ref(x, xn, T, H, refs, d, with_shared ? &shared_refs : nullptr, with_shared ? &s[3] : nullptr, limit);
        const auto got = cuda_ops::moe_experts(x, xn, T, experts, d, with_shared ? &shared : nullptr,
                                               with_shared ? &s[3].ref : nullptr, limit);
        EXPECT_LT(nmse(got, want), kMaxNmse) << dname(dt) << " T=" << T << " variant=" << variant;
      }
    }
  }
}

// ---- sampling ----------------------------------------------------------------------------------------

TEST(CudaOps, ArgmaxMatchesHost) {
  MOESCOPE_REQUIRE_CUDA();
  std::mt19937 rng(7);
  const int rows = 6, V = 50257;
  auto logits = random_vec(size_t(rows) * V, rng);
  logits[size_t(2) * V + 100] = 50.0f;  // a tie: the lower id wins
  logits[size_t(2) * V + 40000] = 50.0f;
  logits[size_t(4) * V + V - 1] = 60.0f;  // the last id
  std::vector<int32_t> want(rows);
  for (int r = 0; r < rows; ++r) {
    const float* row = logits.data() + size_t(r) * V;
    want[size_t(r)] = int32_t(std::max_element(row, row + V) - row);  // first of equal maxima
  }
  EXPECT_EQ(cuda_ops::argmax_rows(logits, rows, V), want);
  EXPECT_EQ(want[2], 100);
}

}  // namespace
