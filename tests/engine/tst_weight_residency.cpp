// Resident (huge-page) weights against mapped ones: same bytes, same model outputs, the Auto rule and
// its environment override, byte progress, cancellation, and a file that shrinks while it is read.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/checkpoint/safetensors_file.h"
#include "engine/checkpoint/weight_residency.h"
#include "engine/checkpoint/weight_store.h"
#include "engine/model/model.h"
#include "engine/session/session.h"
#include "engine/util/error.h"
#include "tests/support/fixtures.h"

using namespace moescope;
namespace fs = std::filesystem;

namespace {

// Sets MOESCOPE_WEIGHTS for one scope and restores what was there.
struct EnvWeights {
  explicit EnvWeights(const char* v) {
    if (const char* old = std::getenv("MOESCOPE_WEIGHTS")) saved = old, had = true;
    if (v) setenv("MOESCOPE_WEIGHTS", v, 1);
    else unsetenv("MOESCOPE_WEIGHTS");
  }
  ~EnvWeights() {
    if (had) setenv("MOESCOPE_WEIGHTS", saved.c_str(), 1);
    else unsetenv("MOESCOPE_WEIGHTS");
  }
  std::string saved;
  bool had = false;
};

// A safetensors file `name` with `header` and `data_bytes` zero bytes of data (sparse: costs no disk).
std::string sparse_file(const std::string& dir, const std::string& name, const std::string& header,
                        uint64_t data_bytes) {
  const std::string path = dir + "/" + name;
  {
    std::ofstream out(path, std::ios::binary);
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out.put(char((n >> (8 * i)) & 0xff));
    out << header;
  }
  fs::resize_file(path, 8 + header.size() + data_bytes);
  return path;
}

// big.safetensors: one U8 tensor "w" of `data_bytes` zero bytes.
std::string sparse_file(const std::string& dir, uint64_t data_bytes) {
  return sparse_file(dir, "big.safetensors",
                     "{\"w\":{\"dtype\":\"U8\",\"shape\":[" + std::to_string(data_bytes) +
                         "],\"data_offsets\":[0," + std::to_string(data_bytes) + "]}}",
                     data_bytes);
}

}  // namespace

TEST(WeightResidency, AutoRuleIsHalfOfAvailableMemory) {
  EXPECT_EQ(auto_residency(1000, 2000), WeightResidency::Resident);
  EXPECT_EQ(auto_residency(1001, 2000), WeightResidency::Mapped);
  EXPECT_EQ(auto_residency(1, 0), WeightResidency::Mapped);  // MemAvailable unknown: always safe
  EXPECT_EQ(auto_residency(uint64_t(90) << 30, uint64_t(24) << 30), WeightResidency::Mapped);  // Mixtral 8x7B on 24 GiB
}

TEST(WeightResidency, EnvironmentOverridesAutoOnly) {
  {
    EnvWeights env("mapped");
    EXPECT_EQ(resolve_residency(WeightResidency::Auto, 1), WeightResidency::Mapped);
    EXPECT_EQ(resolve_residency(WeightResidency::Resident, 1), WeightResidency::Resident);  // explicit wins
  }
  {
    EnvWeights env("resident");
    EXPECT_EQ(resolve_residency(WeightResidency::Auto, uint64_t(1) << 62), WeightResidency::Resident);
    EXPECT_EQ(resolve_residency(WeightResidency::Mapped, 1), WeightResidency::Mapped);
  }
  {
    EnvWeights env(nullptr);
    EXPECT_EQ(resolve_residency(WeightResidency::Auto, uint64_t(1) << 62), WeightResidency::Mapped);  // 4 EiB
    EXPECT_EQ(resolve_residency(WeightResidency::Auto, 4096), WeightResidency::Resident);
  }
  {
    EnvWeights env("fast");
    try {
      resolve_residency(WeightResidency::Auto, 1);
      ADD_FAILURE() << "no error for MOESCOPE_WEIGHTS=fast";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("MOESCOPE_WEIGHTS='fast'"), std::string::npos) << e.what();
    }
  }
}

TEST(WeightResidency, ResidentHoldsTheSameBytesAsTheFile) {
  // The demo is sharded: every shard is read, every tensor's bytes equal the mapped file's.
  auto mapped = WeightStore::open_dir(test::demo_model(), {}, WeightResidency::Mapped);
  auto resident = WeightStore::open_dir(test::demo_model(), {}, WeightResidency::Resident);
  EXPECT_EQ(mapped->residency(), WeightResidency::Mapped);
  ASSERT_EQ(resident->residency(), WeightResidency::Resident);
  ASSERT_EQ(mapped->names(), resident->names());
  for (const auto& n : mapped->names()) {
    const TensorRef a = mapped->get(n), b = resident->get(n);
    ASSERT_EQ(a.nbytes, b.nbytes) << n;
    EXPECT_EQ(a.shape, b.shape) << n;
    EXPECT_NE(a.data, b.data) << n;  // a copy, not the mapping
    EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << n;
  }
}

TEST(WeightResidency, LargeFilesStartOnAHugePageBoundary) {
  const std::string dir = test::temp_dir("residency-align");
  const std::string path = sparse_file(dir, uint64_t(40) << 20);
  SafetensorsFile f(path, true);
  ASSERT_TRUE(f.resident());
  const std::byte* start = f.tensor("w").data - 8 - f.header_size();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(start) % (2u << 20), 0u);
  EXPECT_EQ(f.tensor("w").nbytes, size_t(40) << 20);
}

TEST(WeightResidency, SameLogitsAsMappedWeights) {
  for (const std::string family : {"mixtral", "deepseek_v3"}) {
    SCOPED_TRACE(family);
    const std::string dir = test::model_fixture(family);
    std::vector<float> logits[2];
    int i = 0;
    for (WeightResidency r : {WeightResidency::Mapped, WeightResidency::Resident}) {
      auto model = Model::load(dir, nullptr, r);
      EXPECT_EQ(model->store().residency(), r);
      SessionOptions so;
      so.threads = 2;
      Session s(model, nullptr, so);
      s.set_prompt_ids({3, 5, 7, 11, 13});
      s.prefill();
      s.step();
      logits[i++] = s.last_logits();
    }
    ASSERT_FALSE(logits[0].empty());
    EXPECT_EQ(logits[0], logits[1]);  // bit for bit: the same bytes through the same kernels
  }
}

TEST(WeightResidency, ProgressCountsBytesAndCancelStopsTheRead) {
  const std::string dir = test::temp_dir("residency");
  const uint64_t data = (uint64_t(64) << 20) * 2 + 12345;  // three 64 MiB chunks
  const std::string path = sparse_file(dir, data);
  const uint64_t size = fs::file_size(path);

  std::vector<std::pair<uint64_t, uint64_t>> seen;
  WeightStore::Progress p;
  p.on_bytes = [&](uint64_t done, uint64_t total) { seen.push_back({done, total}); };
  auto store = WeightStore::open_file(path, WeightResidency::Resident, p);
  ASSERT_EQ(store->residency(), WeightResidency::Resident);
  ASSERT_EQ(seen.size(), 3u);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i].first, seen[i - 1].first);
  EXPECT_EQ(seen.back().first, size);
  EXPECT_EQ(seen.back().second, size);

  int calls = 0;
  p.on_bytes = [&](uint64_t, uint64_t) {
    if (++calls == 1) throw Cancelled();
  };
  EXPECT_THROW(WeightStore::open_file(path, WeightResidency::Resident, p), Cancelled);
  EXPECT_EQ(calls, 1);  // nothing read after the cancel (the region is freed: LeakSanitizer in the asan preset)
}

TEST(WeightResidency, FileThatShrinksWhileReadIsAnErrorNamingIt) {
  const std::string dir = test::temp_dir("residency-shrink");
  const std::string path = sparse_file(dir, (uint64_t(64) << 20) * 2);
  try {
    SafetensorsFile f(path, true, [&](uint64_t) { fs::resize_file(path, 1000); });
    ADD_FAILURE() << "no error for a file truncated while it was read";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("big.safetensors: file ended at byte"), std::string::npos) << m;
    EXPECT_NE(m.find("changed while loading"), std::string::npos) << m;
  }
}

TEST(WeightResidency, HeaderErrorsComeBeforeAnyDataIsRead) {
  // A 6 GiB (sparse) file whose header lies about a tensor: resident opening fails on the header,
  // without reading (or allocating for) the data.
  const std::string dir = test::temp_dir("residency-bad");
  const std::string path = sparse_file(dir, "bad.safetensors",
                                       "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,15]}}",
                                       uint64_t(6) << 30);
  int progress_calls = 0;
  try {
    SafetensorsFile f(path, true, [&](uint64_t) { ++progress_calls; });
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.safetensors: tensor 'w': shape [4] x F32 = 16 bytes"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(progress_calls, 0);
}

namespace {

struct CountingReports : LoadProgress {
  int calls = 0;
  std::string last;
  bool report(double, const std::string& what) override {
    ++calls;
    last = what;
    return true;
  }
};

}  // namespace

TEST(ModelSharing, SameCheckpointIsOneCopyWhileItIsOpen) {
  // Sessions that open the same checkpoint (the GUI's main session and its suite/compare runners) share
  // the loaded weights instead of holding a copy each.
  const std::string dir = test::temp_dir("share") + "/m";
  fs::copy(test::model_fixture("olmoe"), dir, fs::copy_options::recursive);
  auto a = Model::load(dir, nullptr, WeightResidency::Resident);
  CountingReports p;
  auto b = Model::load(dir, &p, WeightResidency::Resident);
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(p.calls, 1);
  EXPECT_NE(p.last.find("already open"), std::string::npos) << p.last;

  auto mapped = Model::load(dir, nullptr, WeightResidency::Mapped);  // another residency: its own copy
  EXPECT_NE(mapped.get(), a.get());
  EXPECT_EQ(mapped->store().residency(), WeightResidency::Mapped);

  // A file changed on disk: loaded afresh, never the stale copy.
  fs::last_write_time(dir + "/config.json", fs::last_write_time(dir + "/config.json") + std::chrono::seconds(5));
  CountingReports q;
  auto c = Model::load(dir, &q, WeightResidency::Resident);
  EXPECT_NE(c.get(), a.get());
  EXPECT_GT(q.calls, 2);

  // Nobody holds it any more: the next load reads the files again.
  a.reset();
  b.reset();
  c.reset();
  CountingReports r;
  auto d = Model::load(dir, &r, WeightResidency::Resident);
  EXPECT_GT(r.calls, 2);
  EXPECT_EQ(d->config().num_experts, mapped->config().num_experts);
}
