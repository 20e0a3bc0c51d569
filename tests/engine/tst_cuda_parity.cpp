// Hugging Face parity of the CUDA backend with the same checks as tst_parity.cpp (logits, hidden
// states, router logits, expert sets and weights, greedy continuation through the KV cache), plus
// CUDA-vs-CPU agreement for host-routed strategies and the routing records of the device ring.
// Skips visibly without a CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/cpu/backend.h"
#include "engine/model/model.h"
#include "engine/session/session.h"
#include "engine/util/error.h"
#include "tests/engine/tst_cuda_skip.h"
#include "tests/support/fixtures.h"
#include "tests/support/reference.h"

using namespace moescope;
using moescope::test::Reference;

namespace {

struct HiddenCapture : ForwardObserver {
  std::map<int, std::vector<float>> hidden;
  void on_hidden(int index, int, int rows, int H, const float* data) override {
    hidden[index].assign(data, data + size_t(rows) * H);
  }
};

// Router logits and decisions per MoE layer (model layer index), every call appended.
struct RoutingCapture : ProbeSink {
  struct Layer {
    std::vector<float> logits;
    std::vector<int32_t> experts;
    std::vector<float> weights;
    std::vector<uint8_t> dropped;
    int k = 0;
  };
  std::map<int, Layer> layers;
  void on_routing(const RoutingBatch& b) override {
    Layer& L = layers[b.layer];
    L.logits.insert(L.logits.end(), b.logits, b.logits + size_t(b.tokens) * b.num_experts);
    L.experts.insert(L.experts.end(), b.decision->experts.begin(), b.decision->experts.end());
    L.weights.insert(L.weights.end(), b.decision->weights.begin(), b.decision->weights.end());
    L.dropped.insert(L.dropped.end(), b.decision->dropped.begin(), b.decision->dropped.end());
    L.k = b.decision->k_max;
  }
};

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

struct FullForward {
  HiddenCapture hidden;
  RoutingCapture routing;
  std::vector<float> logits;
};

FullForward run_full(const std::shared_ptr<const Model>& model, const std::vector<int32_t>& ids) {
  FullForward out;
  auto backend = make_backend("cuda", model, 0, int(ids.size()) + 8);
  EXPECT_EQ(backend->name(), "cuda");
  ForwardArgs a;
  a.tokens = ids.data();
  a.count = int(ids.size());
  a.prefill = true;
  a.all_logits = true;
  ProbeSink* sinks[1] = {&out.routing};
  a.sinks = sinks;
  a.num_sinks = 1;
  a.observer = &out.hidden;
  const float* lg = backend->forward(a);
  out.logits.assign(lg, lg + ids.size() * size_t(model->config().vocab_size));
  return out;
}

void compare_routing(const RoutingCapture::Layer& got, const std::vector<int64_t>& ref_experts,
                     const std::vector<float>* ref_weights, int T, double weight_tol, const std::string& what) {
  const int k = int(ref_experts.size()) / T;
  ASSERT_EQ(got.k, k) << what;
  for (int t = 0; t < T; ++t) {
    std::map<int, float> mine, ref;
    for (int j = 0; j < k; ++j) {
      mine[got.experts[size_t(t) * k + j]] = got.weights[size_t(t) * k + j];
      ref[int(ref_experts[size_t(t) * k + j])] = ref_weights ? (*ref_weights)[size_t(t) * k + j] : 0.0f;
    }
    std::set<int> ms, rs;
    for (auto& [e, w] : mine) ms.insert(e);
    for (auto& [e, w] : ref) rs.insert(e);
    ASSERT_EQ(ms, rs) << what << ": expert set differs at token " << t;
    if (ref_weights) {
      for (auto& [e, w] : ref) EXPECT_NEAR(mine[e], w, weight_tol) << what << ": token " << t << " expert " << e;
    }
  }
}

SessionOptions cuda_options(const std::string& strategy = "native") {
  SessionOptions o;
  o.backend = "cuda";
  o.strategy = strategy;
  return o;
}

class CudaFamilyParity : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaFamilyParity, MatchesTransformers) {
  MOESCOPE_REQUIRE_CUDA();
  const std::string family = GetParam();
  const Reference ref(test::model_reference(family));
  std::ifstream meta_in(test::fixtures_dir() + "/models/" + family + "/meta.json");
  const auto meta = nlohmann::json::parse(meta_in);
  const double tol_logits = meta["tolerances"]["logits_abs"].get<double>();
  const double tol_hidden = meta["tolerances"]["hidden_abs"].get<double>();
  const double tol_router = meta["tolerances"]["router_logits_abs"].get<double>();
  const double tol_weights = meta["tolerances"]["router_weights_abs"].get<double>();

  auto model = Model::load(test::model_fixture(family));
  const auto ids = ref.ids("input_ids");
  const int T = int(ids.size());
  const FullForward f = run_full(model, ids);

  EXPECT_LE(max_abs_diff(f.logits, ref.floats("logits")), tol_logits) << family << " logits";
  const int L = model->config().num_layers;
  for (int i = 0; i <= L; ++i) {
    ASSERT_TRUE(f.hidden.hidden.count(i)) << "hidden." << i << " not reported";
    EXPECT_LE(max_abs_diff(f.hidden.hidden.at(i), ref.floats("hidden." + std::to_string(i))), tol_hidden)
        << family << " hidden." << i;
  }
  std::vector<int> moe_layers = meta["moe_layers"].get<std::vector<int>>();
  ASSERT_EQ(f.routing.layers.size(), moe_layers.size()) << family << ": MoE layers routed";
  for (int l : moe_layers) {
    const std::string p = "router." + std::to_string(l);
    ASSERT_TRUE(f.routing.layers.count(l)) << family << " layer " << l << " was not routed";
    const auto& got = f.routing.layers.at(l);
    EXPECT_LE(max_abs_diff(got.logits, ref.floats(p + ".logits")), tol_router) << family << " " << p;
    const auto w = ref.floats(p + ".weights");
    compare_routing(got, ref.ints(p + ".experts"), &w, T, tol_weights, family + " " + p);
  }

  Session s(model, nullptr, cuda_options());
  s.set_prompt_ids(ref.ids("greedy.prompt"));
  std::vector<int32_t> generated;
  for (int i = 0; i < 10; ++i) generated.push_back(s.step());
  EXPECT_EQ(generated, ref.ids("greedy.ids")) << family << " greedy continuation";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaFamilyParity,
                         ::testing::Values("mixtral", "olmoe", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3", "glm4_moe", "ernie4_5_moe", "granitemoe", "granitemoe_shared", "dots1", "gpt_oss",
                                           "gpt_oss_mxfp4", "qwen3_moe_fp8"),
                         [](const auto& info) { return info.param; });

class CudaDemoParity : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaDemoParity, MatchesTransformers) {
  MOESCOPE_REQUIRE_CUDA();
  const std::string prompt = GetParam();
  const Reference ref(test::demo_reference());
  const std::shared_ptr<const Model> model = Model::load(test::demo_model());
  const auto ids = ref.ids(prompt + ".input_ids");
  const int T = int(ids.size());
  const FullForward f = run_full(model, ids);
  EXPECT_LE(max_abs_diff(f.logits, ref.floats(prompt + ".logits")), 1e-4) << prompt << " logits";
  for (int l = 0; l < model->config().num_layers; ++l) {
    const std::string p = prompt + ".router." + std::to_string(l);
    ASSERT_TRUE(f.routing.layers.count(l));
    const auto& got = f.routing.layers.at(l);
    EXPECT_LE(max_abs_diff(got.logits, ref.floats(p + ".logits")), 1e-4) << p;
    compare_routing(got, ref.ints(p + ".experts"), nullptr, T, 0, p);
  }
  Session s(model, nullptr, cuda_options());
  s.set_prompt_ids(ids);
  const auto want = ref.ids(prompt + ".greedy.ids");
  std::vector<int32_t> generated;
  for (size_t i = 0; i < want.size(); ++i) generated.push_back(s.step());
  EXPECT_EQ(generated, want) << prompt << " greedy continuation";
}

INSTANTIATE_TEST_SUITE_P(Demo, CudaDemoParity, ::testing::Values("c", "csv", "prose", "python"),
                         [](const auto& info) { return info.param; });

// Host-routed strategies (logits copied down, decisions copied up) and the device ring's records in
// decode steps: the CUDA session must route, record and generate like the CPU session.
class CudaStrategyAgreement : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaStrategyAgreement, SameRoutingAndTokensAsCpu) {
  MOESCOPE_REQUIRE_CUDA();
  const std::string spec = GetParam();
  auto model = Model::load(test::model_fixture(spec == "no-shared" ? "qwen2_moe" : "mixtral"));
  const Reference ref(test::model_reference(spec == "no-shared" ? "qwen2_moe" : "mixtral"));
  RoutingCapture cpu_rec, cuda_rec;
  std::vector<int32_t> cpu_ids, cuda_ids;
  for (int pass = 0; pass < 2; ++pass) {
    SessionOptions o = pass == 0 ? SessionOptions{} : cuda_options();
    o.strategy = spec;
    o.threads = 2;
    Session s(model, nullptr, o);
    RoutingCapture& rec = pass == 0 ? cpu_rec : cuda_rec;
    s.add_sink(&rec);
    s.set_prompt_ids(ref.ids("greedy.prompt"));
    auto& ids = pass == 0 ? cpu_ids : cuda_ids;
    for (int i = 0; i < 6; ++i) ids.push_back(s.step());
  }
  EXPECT_EQ(cuda_ids, cpu_ids) << spec;
  ASSERT_EQ(cuda_rec.layers.size(), cpu_rec.layers.size()) << spec;
  for (const auto& [layer, want] : cpu_rec.layers) {
    const auto& got = cuda_rec.layers.at(layer);
    EXPECT_LE(max_abs_diff(got.logits, want.logits), 1e-4) << spec << " layer " << layer;
    ASSERT_EQ(got.k, want.k) << spec << " layer " << layer;
    ASSERT_EQ(got.experts.size(), want.experts.size()) << spec << " layer " << layer;
    EXPECT_EQ(got.dropped, want.dropped) << spec << " layer " << layer;
    const int k = want.k;
    for (size_t t = 0; k > 0 && t < want.experts.size() / size_t(k); ++t) {
      std::set<int> g(got.experts.begin() + t * k, got.experts.begin() + (t + 1) * k);
      std::set<int> w(want.experts.begin() + t * k, want.experts.begin() + (t + 1) * k);
      EXPECT_EQ(g, w) << spec << " layer " << layer << " row " << t;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Specs, CudaStrategyAgreement,
                         ::testing::Values("native", "topk:1", "topp:0.5", "capacity:1.0", "mask:0.1", "no-shared"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

// Decode steps replay a captured CUDA graph (one per routing-ring slot, position read on the device).
// The same kernels run either way, so the graph path must give bit-identical logits and records to
// the eager path (MOESCOPE_CUDA_GRAPHS=0), across slot switches, a rewind and a second prompt.
TEST(CudaGraphs, DecodeReplayMatchesEagerSteps) {
  MOESCOPE_REQUIRE_CUDA();
  for (const std::string family : {"mixtral", "deepseek_v3"}) {
    auto model = Model::load(test::model_fixture(family));
    const Reference ref(test::model_reference(family));
    std::vector<std::vector<float>> logits[2];
    RoutingCapture rec[2];
    for (int graphs = 0; graphs < 2; ++graphs) {
      setenv("MOESCOPE_CUDA_GRAPHS", graphs ? "1" : "0", 1);
      Session s(model, nullptr, cuda_options());
      s.add_sink(&rec[graphs]);
      s.set_prompt_ids(ref.ids("greedy.prompt"));
      for (int i = 0; i < 7; ++i) {
        s.step();
        logits[graphs].push_back(s.last_logits());
      }
      s.rewind(int(ref.ids("greedy.prompt").size()) + 2);
      for (int i = 0; i < 3; ++i) {
        s.step();
        logits[graphs].push_back(s.last_logits());
      }
      s.set_prompt_ids({1, 2, 3});
      for (int i = 0; i < 3; ++i) {
        s.step();
        logits[graphs].push_back(s.last_logits());
      }
    }
    unsetenv("MOESCOPE_CUDA_GRAPHS");
    ASSERT_EQ(logits[0].size(), logits[1].size());
    for (size_t i = 0; i < logits[0].size(); ++i) EXPECT_EQ(logits[0][i], logits[1][i]) << family << " step " << i;
    for (const auto& [layer, eager] : rec[0].layers) {
      EXPECT_EQ(rec[1].layers.at(layer).experts, eager.experts) << family << " layer " << layer;
      EXPECT_EQ(rec[1].layers.at(layer).logits, eager.logits) << family << " layer " << layer;
    }
  }
}

// Without a device the backend is refused with the one clear message.
TEST(CudaBackend, NoDeviceGivesOneClearError) {
  const std::string why = test::cuda_skip_reason();
  if (why.empty()) GTEST_SKIP() << "a CUDA device is present: the no-device error cannot be observed";
  auto model = Model::load(test::model_fixture("mixtral"));
  try {
    make_backend("cuda", model, 0, 16);
    FAIL() << "make_backend(\"cuda\") succeeded without a device";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("no CUDA device: ", 0), 0u) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
}

}  // namespace
