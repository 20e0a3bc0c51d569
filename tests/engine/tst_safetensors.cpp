// The safetensors reader and the weight store: values of a file written byte by byte in the test,
// reference.safetensors against meta.json, and every malformed case with the file and problem named.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/checkpoint/safetensors_file.h"
#include "engine/checkpoint/weight_store.h"
#include "engine/util/error.h"
#include "tests/support/fixtures.h"

using namespace moescope;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Writes an 8-byte little-endian length (or `declared_len` when given), the header text, then `data`.
std::string write_st(const std::string& dir, const std::string& name, const std::string& header,
                     const std::string& data, int64_t declared_len = -1) {
  const std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary);
  uint64_t n = declared_len >= 0 ? uint64_t(declared_len) : header.size();
  for (int i = 0; i < 8; ++i) out.put(char((n >> (8 * i)) & 0xff));
  out << header << data;
  return path;
}

std::string bytes_of(std::initializer_list<uint8_t> b) { return std::string(b.begin(), b.end()); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

#define EXPECT_HAS(haystack, needle) EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

}  // namespace

TEST(Safetensors, ReadsHandWrittenBytes) {
  const std::string dir = test::temp_dir("st");
  // Data section (offsets relative to its start):
  //  [0,24)  a  F32 [2,3] = 1..6      [24,28) b BF16 [2] = 1.0, -2.0    [28,32) c F16 [2] = 1.0, 0.5
  //  [32,56) d  I64 [3]  = -1, 0, 7  [56,64) e F64 [1] = 0.25          [64,66) f BOOL [2] = 1, 0
  //  g F32 [0] empty at 66
  std::string data;
  for (float v : {1.f, 2.f, 3.f, 4.f, 5.f, 6.f}) data.append(reinterpret_cast<const char*>(&v), 4);
  data += bytes_of({0x80, 0x3f, 0x00, 0xc0});          // bf16 1.0, -2.0 (little endian)
  data += bytes_of({0x00, 0x3c, 0x00, 0x38});          // fp16 1.0, 0.5
  for (int64_t v : {int64_t(-1), int64_t(0), int64_t(7)}) data.append(reinterpret_cast<const char*>(&v), 8);
  data += bytes_of({0, 0, 0, 0, 0, 0, 0xd0, 0x3f});    // f64 0.25
  data += bytes_of({1, 0});
  const std::string header = R"({"__metadata__":{"format":"pt"},)"
                             R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                             R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[24,28]},)"
                             R"("c":{"dtype":"F16","shape":[2],"data_offsets":[28,32]},)"
                             R"("d":{"dtype":"I64","shape":[3],"data_offsets":[32,56]},)"
                             R"("e":{"dtype":"F64","shape":[1],"data_offsets":[56,64]},)"
                             R"("f":{"dtype":"BOOL","shape":[2],"data_offsets":[64,66]},)"
                             R"("g":{"dtype":"F32","shape":[0],"data_offsets":[66,66]}})";
  const std::string path = write_st(dir, "hand.safetensors", header, data);
  SafetensorsFile f(path);
  EXPECT_EQ(f.entries().size(), 7u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.file_size(), 8 + header.size() + data.size());

  TensorRef a = f.tensor("a");
  EXPECT_EQ(a.dtype, DType::F32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.to_f32(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(a.slice_rows(1, 1).to_f32(), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(f.tensor("b").to_f32(), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(f.tensor("c").to_f32(), (std::vector<float>{1.0f, 0.5f}));
  EXPECT_EQ(f.tensor("d").to_f32(), (std::vector<float>{-1, 0, 7}));
  EXPECT_EQ(f.tensor("e").to_f32(), (std::vector<float>{0.25f}));
  EXPECT_EQ(f.tensor("f").to_f32(), (std::vector<float>{1, 0}));
  EXPECT_EQ(f.tensor("g").numel(), 0);
  // The view points at the bytes where the file has them.
  EXPECT_EQ(std::memcmp(f.tensor("d").data, data.data() + 32, 24), 0);
  EXPECT_EQ(f.tensor("d").nbytes, 24u);
  EXPECT_FALSE(f.contains("zz"));
  EXPECT_HAS(error_of([&] { f.tensor("zz"); }), "hand.safetensors: no tensor 'zz'");
}

TEST(Safetensors, ReferenceFileMatchesMeta) {
  for (const std::string family : {"mixtral", "olmoe", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3", "glm4_moe", "ernie4_5_moe", "granitemoe", "granitemoe_shared", "dots1", "phimoe", "gpt_oss", "gpt_oss_mxfp4", "qwen3_moe_fp8"}) {
    SCOPED_TRACE(family);
    std::ifstream in(test::fixtures_dir() + "/models/" + family + "/meta.json");
    const json meta = json::parse(in);
    SafetensorsFile f(test::model_reference(family));
    const json& refs = meta["reference_tensors"];
    EXPECT_EQ(f.entries().size(), refs.size());
    for (auto it = refs.begin(); it != refs.end(); ++it) {
      TensorRef t = f.tensor(it.key());
      EXPECT_EQ(t.shape, it.value()["shape"].get<std::vector<int64_t>>()) << it.key();
      EXPECT_EQ(t.dtype, it.value()["dtype"] == "int64" ? DType::I64 : DType::F32) << it.key();
    }
    // README: greedy.prompt = input_ids[:6]; ids are in [3, vocab) by construction.
    const auto ids = f.tensor("input_ids").to_f32();
    const auto prompt = f.tensor("greedy.prompt").to_f32();
    ASSERT_EQ(prompt.size(), 6u);
    for (size_t i = 0; i < 6; ++i) EXPECT_EQ(prompt[i], ids[i]);
    const int vocab = meta["config_summary"]["vocab_size"].get<int>();
    for (float id : ids) {
      EXPECT_GE(id, 3);
      EXPECT_LT(id, vocab);
    }
  }
}

TEST(SafetensorsErrors, ShortFileAndHeaderLength) {
  const std::string dir = test::temp_dir("st-bad");
  {
    const std::string p = dir + "/short.safetensors";
    std::ofstream(p, std::ios::binary) << "abc";
    EXPECT_HAS(error_of([&] { SafetensorsFile f(p); }), "short.safetensors: file is 3 bytes, shorter than the 8-byte");
  }
  const std::string p = write_st(dir, "len.safetensors", "{}", "", 1000);
  for (bool resident : {false, true}) {
    EXPECT_HAS(error_of([&] { SafetensorsFile f(p, resident); }),
               "len.safetensors: header length 1000 goes beyond the end of the file (10 bytes)");
    EXPECT_HAS(error_of([&] { SafetensorsFile f(dir + "/short.safetensors", resident); }), "file is 3 bytes");
  }
  EXPECT_HAS(error_of([&] { SafetensorsFile f(dir + "/absent.safetensors"); }), "absent.safetensors: cannot open");
}

TEST(SafetensorsErrors, HeaderProblemsNameFileAndTensor) {
  const std::string dir = test::temp_dir("st-bad");
  const std::string eight(8, '\0');
  struct Case { const char* file; std::string header; std::string data; const char* expect; };
  const Case cases[] = {
      {"json.safetensors", R"({"a": {"dtype": )", "", "json.safetensors: invalid JSON header"},
      {"array.safetensors", R"([1,2])", "", "array.safetensors: invalid JSON header: not a JSON object"},
      {"dtype.safetensors", R"({"w":{"dtype":"F8_E5M2","shape":[8],"data_offsets":[0,8]}})", eight,
       "dtype.safetensors: tensor 'w': dtype 'F8_E5M2' is not supported (weights must be F32, F16, BF16 or "
       "block-scaled F8_E4M3"},
      {"dtype2.safetensors", R"({"w":{"dtype":"Q9","shape":[8],"data_offsets":[0,8]}})", eight,
       "dtype2.safetensors: tensor 'w': unknown dtype 'Q9'"},
      {"range.safetensors", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", eight,
       "range.safetensors: tensor 'w': data_offsets [0,16] out of range: the data section has 8 bytes"},
      {"reversed.safetensors", R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", eight,
       "reversed.safetensors: tensor 'w': data_offsets [8,4] end before begin"},
      {"size.safetensors", R"({"w":{"dtype":"F32","shape":[4,8],"data_offsets":[0,8]}})", eight,
       "size.safetensors: tensor 'w': shape [4,8] x F32 = 128 bytes, but data_offsets span 8"},
      {"overlap.safetensors",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       eight, "overlap.safetensors: tensor 'b' data [4,8) overlaps tensor 'a' [0,8)"},
      {"shape.safetensors", R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight,
       "shape.safetensors: tensor 'w': shape [-2] has a dimension that is not a non-negative integer"},
      {"offsets.safetensors", R"({"w":{"dtype":"F32","shape":[2]}})", eight,
       "offsets.safetensors: tensor 'w': data_offsets must be two non-negative integers"},
  };
  for (const auto& c : cases) {
    const std::string p = write_st(dir, c.file, c.header, c.data);
    EXPECT_HAS(error_of([&] { SafetensorsFile f(p); }), c.expect);
  }
}

// ---- WeightStore -------------------------------------------------------------------------------

namespace {

std::string one_tensor(const std::string& name, float v) {
  return R"({")" + name + R"(":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
}
std::string f32(float v) { return std::string(reinterpret_cast<const char*>(&v), 4); }

}  // namespace

TEST(WeightStore, ShardedIndexBindsEachTensorToItsShard) {
  const std::string dir = test::temp_dir("ws");
  write_st(dir, "s1.safetensors", one_tensor("x", 1), f32(1.5f));
  write_st(dir, "s2.safetensors", one_tensor("y", 2), f32(-3.0f));
  std::ofstream(dir + "/model.safetensors.index.json") << R"({"metadata":{},"weight_map":{"x":"s1.safetensors","y":"s2.safetensors"}})";
  auto s = WeightStore::open_dir(dir);
  EXPECT_EQ(s->files().size(), 2u);
  EXPECT_EQ(s->names(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(s->get("x").at(0), 1.5f);
  EXPECT_EQ(s->get("y").at(0), -3.0f);
  EXPECT_EQ(fs::path(s->file_of("y")).filename(), "s2.safetensors");
  EXPECT_HAS(error_of([&] { s->get("z"); }), "model.safetensors.index.json: checkpoint has no tensor 'z'");
}

TEST(WeightStore, ShardTensorsMissingFromIndexAreIgnoredWithAWarning) {
  const std::string dir = test::temp_dir("ws");
  write_st(dir, "s1.safetensors",
           R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"extra":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
           f32(1) + f32(2));
  std::ofstream(dir + "/model.safetensors.index.json") << R"({"weight_map":{"x":"s1.safetensors"}})";
  auto s = WeightStore::open_dir(dir);
  EXPECT_EQ(s->names(), std::vector<std::string>{"x"});
  ASSERT_EQ(s->warnings().size(), 1u);
  EXPECT_HAS(s->warnings()[0], "s1.safetensors: 1 tensors not listed in model.safetensors.index.json were ignored");
}

TEST(WeightStoreErrors, ShardProblems) {
  {
    const std::string dir = test::temp_dir("ws-bad");
    write_st(dir, "s1.safetensors", one_tensor("x", 1), f32(1));
    std::ofstream(dir + "/model.safetensors.index.json") << R"({"weight_map":{"x":"s1.safetensors","y":"s9.safetensors"}})";
    EXPECT_HAS(error_of([&] { WeightStore::open_dir(dir); }),
               "model.safetensors.index.json: shard 's9.safetensors' (holding 'y') does not exist");
  }
  {
    const std::string dir = test::temp_dir("ws-bad");
    write_st(dir, "s1.safetensors", one_tensor("x", 1), f32(1));
    std::ofstream(dir + "/model.safetensors.index.json") << R"({"weight_map":{"x":"s1.safetensors","w":"s1.safetensors"}})";
    EXPECT_HAS(error_of([&] { WeightStore::open_dir(dir); }),
               "model.safetensors.index.json: tensor 'w' is mapped to shard 's1.safetensors', but");
  }
  {
    const std::string dir = test::temp_dir("ws-bad");
    std::ofstream(dir + "/model.safetensors.index.json") << R"({"weight_map": 3})";
    EXPECT_HAS(error_of([&] { WeightStore::open_dir(dir); }), "model.safetensors.index.json: no \"weight_map\" object");
  }
  {
    const std::string dir = test::temp_dir("ws-bad");
    EXPECT_HAS(error_of([&] { WeightStore::open_dir(dir); }), "no model.safetensors or model.safetensors.index.json");
  }
  {
    // A broken shard is reported with its own name.
    const std::string dir = test::temp_dir("ws-bad");
    write_st(dir, "s1.safetensors", R"({"x":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}})", f32(1));
    std::ofstream(dir + "/model.safetensors.index.json") << R"({"weight_map":{"x":"s1.safetensors"}})";
    EXPECT_HAS(error_of([&] { WeightStore::open_dir(dir); }), "s1.safetensors: tensor 'x': unknown dtype 'Q4'");
  }
}

TEST(WeightStore, DemoShardsAgreeWithIndex) {
  std::ifstream in(test::demo_model() + "/model.safetensors.index.json");
  const json idx = json::parse(in);
  auto s = WeightStore::open_dir(test::demo_model());
  EXPECT_EQ(s->names().size(), idx["weight_map"].size());
  uint64_t bytes = 0;
  for (const auto& n : s->names()) bytes += s->get(n).nbytes;
  EXPECT_EQ(bytes, idx["metadata"]["total_size"].get<uint64_t>());
}

TEST(SafetensorsErrors, CorruptedHeadersThrowErrorsNeverCrash) {
  // Random byte changes in the length and header of a real file: each open either succeeds with views
  // inside the file or throws Error (run under ASan in the asan preset).
  const std::string dir = test::temp_dir("st-fuzz");
  std::string data;
  for (float v : {1.f, 2.f, 3.f, 4.f}) data.append(reinterpret_cast<const char*>(&v), 4);
  const std::string header = R"({"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[8,16]}})";
  const std::string good = write_st(dir, "good.safetensors", header, data);
  std::ifstream in(good, std::ios::binary);
  const std::string original((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::mt19937 rng(7);
  const char alphabet[] = "0123456789[]{},:\"-.eFIUB \x00\xff";
  int opened = 0, errors = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes = original;
    const int edits = 1 + int(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % (8 + header.size());
      bytes[pos] = (rng() % 2) ? char(rng() & 0xff) : alphabet[rng() % (sizeof alphabet - 1)];
    }
    if (rng() % 10 == 0) bytes.resize(rng() % bytes.size());
    const std::string p = dir + "/fuzz.safetensors";
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
    try {
      SafetensorsFile f(p, /*resident=*/iter % 2 == 1);  // both ways of holding the bytes
      for (const auto& e : f.entries()) {
        TensorRef t = f.tensor(e);
        ASSERT_LE(8 + f.header_size() + e.end, f.file_size());
        ASSERT_EQ(t.nbytes, size_t(t.numel()) * dtype_size(t.dtype));
        if (t.numel() > 0) (void)t.at(t.numel() - 1);
      }
      ++opened;
    } catch (const Error& e) {
      ASSERT_NE(std::string(e.what()).find("fuzz.safetensors"), std::string::npos) << e.what();
      ++errors;
    }
  }
  EXPECT_GT(errors, 1000);  // most corruptions are caught
  EXPECT_GT(opened, 10);    // and harmless ones (e.g. in __metadata__ values) still open
}
