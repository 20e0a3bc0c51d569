// The KV cache: prefill + token-by-token decoding (and chunked prefill, and overwriting after a
// rewind) must give the logits of one full forward pass; decoding allocates no heap memory.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>

#include "engine/cpu/backend.h"
#include "engine/model/model.h"
#include "engine/session/session.h"
#include "engine/util/error.h"
#include "tests/support/fixtures.h"
#include "tests/support/reference.h"

// Counts heap allocations of this test program (only while g_counting is set).
static std::atomic<bool> g_counting{false};
static std::atomic<long> g_allocations{0};
void* operator new(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

using namespace moescope;

namespace {

std::vector<float> forward(Backend& b, const std::vector<int32_t>& ids, int first, int count, bool all) {
  ForwardArgs a;
  a.tokens = ids.data() + first;
  a.count = count;
  a.first_position = first;
  a.prefill = first == 0;
  a.all_logits = all;
  const float* lg = b.forward(a);
  return std::vector<float>(lg, lg + size_t(all ? count : 1) * 384);
}

double row_diff(const std::vector<float>& full, int row, const std::vector<float>& one) {
  double m = 0;
  for (size_t v = 0; v < one.size(); ++v) m = std::max(m, double(std::fabs(full[size_t(row) * 384 + v] - one[v])));
  return m;
}

class KvCache : public ::testing::TestWithParam<std::string> {};

TEST_P(KvCache, DecodingMatchesFullForward) {
  const std::string family = GetParam();
  auto model = Model::load(test::model_fixture(family));
  ASSERT_EQ(model->config().vocab_size, 384);
  const auto ids = test::Reference(test::model_reference(family)).ids("input_ids");
  const int T = int(ids.size());

  auto full_backend = make_cpu_backend(model, 2, 32);
  const auto full = forward(*full_backend, ids, 0, T, true);

  // prefill 5, then one token at a time
  auto b = make_cpu_backend(model, 2, 32);
  auto pre = forward(*b, ids, 0, 5, true);
  for (int t = 0; t < 5; ++t) {
    std::vector<float> row(pre.begin() + t * 384, pre.begin() + (t + 1) * 384);
    EXPECT_LT(row_diff(full, t, row), 1e-5) << "prefill row " << t;
  }
  for (int t = 5; t < T; ++t) EXPECT_LT(row_diff(full, t, forward(*b, ids, t, 1, false)), 1e-5) << "decode " << t;

  // rewind to position 7 and overwrite the rest in one chunk: the cache beyond 7 is replaced
  std::vector<int32_t> other = ids;
  for (int t = 7; t < T; ++t) other[size_t(t)] = (ids[size_t(t)] + 11) % 384;
  forward(*b, other, 7, T - 7, false);
  const auto chunk = forward(*b, ids, 7, T - 7, true);
  for (int t = 7; t < T; ++t) {
    std::vector<float> row(chunk.begin() + (t - 7) * 384, chunk.begin() + (t - 6) * 384);
    EXPECT_LT(row_diff(full, t, row), 1e-5) << "after rewind, row " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, KvCache, ::testing::Values("mixtral", "olmoe", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3", "glm4_moe", "ernie4_5_moe", "granitemoe", "granitemoe_shared", "dots1", "phimoe", "gpt_oss",
                                           "gpt_oss_mxfp4", "qwen3_moe_fp8"),
                         [](const auto& info) { return info.param; });

TEST(KvCacheLimits, ContextOverflowIsAClearError) {
  auto model = Model::load(test::model_fixture("mixtral"));
  auto b = make_cpu_backend(model, 1, 8);
  EXPECT_EQ(b->max_context(), 8);
  std::vector<int32_t> ids(9, 5);
  try {
    forward(*b, ids, 0, 9, false);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("exceeds the context of 8"), std::string::npos) << e.what();
  }
  forward(*b, ids, 0, 8, false);  // exactly full is fine
  EXPECT_THROW(forward(*b, ids, 8, 1, false), Error);
}

TEST(KvCacheLimits, DecodeStepsDoNotAllocate) {
  for (const char* family : {"mixtral", "deepseek_v3", "qwen2_moe"}) {
    auto model = Model::load(test::model_fixture(family));
    Session s(model, nullptr, SessionOptions{});
    s.set_prompt_ids({5, 6, 7, 8});
    s.step();  // prefill + first decode warm every buffer up
    s.step();
    g_allocations = 0;
    g_counting = true;
    for (int i = 0; i < 10; ++i) s.step();
    g_counting = false;
    EXPECT_EQ(g_allocations.load(), 0) << family << ": heap allocations during 10 decode steps";
  }
}

}  // namespace

namespace {

// Every output value is computed by one thread in a fixed order, so results do not depend on the
// number of threads (traces recorded on different machines agree bit for bit).
TEST(KvCacheLimits, ResultsDoNotDependOnThreadCount) {
  auto model = Model::load(test::model_fixture("qwen2_moe"));
  const auto ids = test::Reference(test::model_reference("qwen2_moe")).ids("input_ids");
  auto one = make_cpu_backend(model, 1, 32);
  auto three = make_cpu_backend(model, 3, 32);
  EXPECT_EQ(forward(*one, ids, 0, int(ids.size()), true), forward(*three, ids, 0, int(ids.size()), true));
  // the demo's matrices are large enough to be split across threads
  auto demo = Model::load(test::demo_model());
  const auto dids = test::Reference(test::demo_reference()).ids("prose.input_ids");
  auto d1 = make_cpu_backend(demo, 1, 64), d3 = make_cpu_backend(demo, 3, 64);
  ForwardArgs a;
  a.tokens = dids.data();
  a.count = int(dids.size());
  a.all_logits = true;
  const size_t n = dids.size() * 4096;
  const float* p1 = d1->forward(a);
  const std::vector<float> l1(p1, p1 + n);
  const float* p3 = d3->forward(a);
  EXPECT_EQ(l1, std::vector<float>(p3, p3 + n));
}

}  // namespace
