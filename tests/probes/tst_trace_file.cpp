// Trace files: the written layout checked with the raw HDF5 C API (types, shapes, attrs, vlen UTF-8),
// round trips through TraceReader, the background TraceWriter (rewind, K growth, extra groups), and a
// writer killed with SIGKILL mid-run leaving a readable prefix.
#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "engine/util/error.h"
#include "probes/trace/h5_util.h"
#include "probes/trace/trace_file.h"
#include "probes/trace/trace_reader.h"
#include "probes/trace/trace_writer.h"
#include "tests/probes/sink_driver.h"
#include "tests/probes/synthetic_run.h"
#include "tests/support/fixtures.h"

using namespace moescope;
namespace fs = std::filesystem;

namespace {

RunData sample_run(const std::string& name) {
  RunData r = test::make_run(4, 2, {{{0, 1}, {2, -1}}, {{3, 2}, {1, 0}}, {{2, 0}, {3, 1}}}, {11, 12, 13},
                             {"Hello", " w\xc3\xb6rld", "\xe2\x82\xac"});
  r.name = name;
  r.model = "/models/demo";
  r.family = "mixtral";
  r.model_config = "{\"model_type\": \"mixtral\"}";
  r.strategy = "topk:2";
  r.backend = "cpu";
  r.tokenizer_sha256 = "abc123";
  r.prompt = "Hello w\xc3\xb6rld";
  r.label = "prose";
  r.moe_layers = {1, 3};
  r.is_prompt = {1, 1, 0};
  r.dropped[3] = 1;
  r.step_ns = {5000, 700};
  r.step_tokens = {2, 1};
  r.step_prefill = {1, 0};
  r.step_first_position = {0, 2};
  r.next_token = 42;
  r.extra_attrs["sampling"] = "greedy";
  r.extra_num_attrs["temperature"] = 0.7;
  return r;
}

void expect_same(const RunData& a, const RunData& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.family, b.family);
  EXPECT_EQ(a.model_config, b.model_config);
  EXPECT_EQ(a.strategy, b.strategy);
  EXPECT_EQ(a.backend, b.backend);
  EXPECT_EQ(a.tokenizer_sha256, b.tokenizer_sha256);
  EXPECT_EQ(a.prompt, b.prompt);
  EXPECT_EQ(a.label, b.label);
  EXPECT_EQ(a.num_experts, b.num_experts);
  EXPECT_EQ(a.k_max, b.k_max);
  EXPECT_EQ(a.moe_layers, b.moe_layers);
  EXPECT_EQ(a.token_ids, b.token_ids);
  EXPECT_EQ(a.token_text, b.token_text);
  EXPECT_EQ(a.is_prompt, b.is_prompt);
  EXPECT_EQ(a.router_logits, b.router_logits);
  EXPECT_EQ(a.experts, b.experts);
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.dropped, b.dropped);
  EXPECT_EQ(a.next_logits, b.next_logits);
  EXPECT_EQ(a.step_ns, b.step_ns);
  EXPECT_EQ(a.step_tokens, b.step_tokens);
  EXPECT_EQ(a.step_prefill, b.step_prefill);
  EXPECT_EQ(a.step_first_position, b.step_first_position);
  EXPECT_EQ(a.next_token, b.next_token);
}

// Raw C API checks, independent of TraceReader.
struct Raw {
  hid_t f;
  explicit Raw(const std::string& path) : f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)) {}
  ~Raw() { H5Fclose(f); }
  std::vector<hsize_t> dims(const char* ds) {
    hid_t d = H5Dopen2(f, ds, H5P_DEFAULT);
    hid_t s = H5Dget_space(d);
    std::vector<hsize_t> v(size_t(H5Sget_simple_extent_ndims(s)));
    H5Sget_simple_extent_dims(s, v.data(), nullptr);
    H5Sclose(s);
    H5Dclose(d);
    return v;
  }
  // (class, size in bytes, signed)
  std::tuple<H5T_class_t, size_t, bool> type(const char* ds) {
    hid_t d = H5Dopen2(f, ds, H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    auto r = std::make_tuple(H5Tget_class(t), H5Tget_size(t), H5Tget_class(t) == H5T_INTEGER && H5Tget_sign(t) == H5T_SGN_2);
    H5Tclose(t);
    H5Dclose(d);
    return r;
  }
  std::string str_attr(const char* obj, const char* name, bool* vlen_utf8 = nullptr) {
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    if (vlen_utf8) *vlen_utf8 = H5Tis_variable_str(t) > 0 && H5Tget_cset(t) == H5T_CSET_UTF8;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5T_CSET_UTF8);
    char* p = nullptr;
    H5Aread(a, mt, &p);
    std::string s = p ? p : "";
    H5free_memory(p);
    H5Tclose(mt);
    H5Tclose(t);
    H5Aclose(a);
    return s;
  }
  int64_t int_attr(const char* obj, const char* name) {
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    int64_t v = -99;
    H5Aread(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    return v;
  }
};

}  // namespace

TEST(TraceFile, CoreSchemaWithRawApi) {
  const std::string path = test::temp_dir("trace") + "/core.h5";
  RunData r = sample_run("0");
  r.vocab_size = 3;
  r.next_logits = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  {
    auto f = TraceFile::create(path);
    f->write_run(r);
  }
  Raw raw(path);
  bool utf8 = false;
  EXPECT_EQ(raw.str_attr("/", "format", &utf8), "moescope-trace");
  EXPECT_TRUE(utf8);
  EXPECT_EQ(raw.int_attr("/", "version"), 1);
  const std::string created = raw.str_attr("/", "created");
  ASSERT_EQ(created.size(), 20u);  // 2026-01-01T00:00:00Z
  EXPECT_EQ(created[4], '-');
  EXPECT_EQ(created[10], 'T');
  EXPECT_EQ(created.back(), 'Z');
  EXPECT_EQ(raw.str_attr("/", "engine_version"), MOESCOPE_VERSION);
  for (const char* a : {"model", "family", "model_config", "strategy", "backend", "tokenizer", "prompt"}) {
    bool v = false;
    raw.str_attr("/runs/0", a, &v);
    EXPECT_TRUE(v) << a;
  }
  EXPECT_EQ(raw.str_attr("/runs/0", "prompt"), "Hello w\xc3\xb6rld");
  EXPECT_EQ(raw.str_attr("/runs/0", "tokenizer"), "abc123");
  EXPECT_EQ(raw.str_attr("/runs/0", "strategy"), "topk:2");
  EXPECT_EQ(raw.dims("/runs/0/tokens/ids"), (std::vector<hsize_t>{3}));
  EXPECT_EQ(raw.dims("/runs/0/tokens/text"), (std::vector<hsize_t>{3}));
  EXPECT_EQ(raw.dims("/runs/0/tokens/is_prompt"), (std::vector<hsize_t>{3}));
  EXPECT_EQ(raw.dims("/runs/0/routing/layers"), (std::vector<hsize_t>{2}));
  EXPECT_EQ(raw.dims("/runs/0/routing/logits"), (std::vector<hsize_t>{3, 2, 4}));
  EXPECT_EQ(raw.dims("/runs/0/routing/experts"), (std::vector<hsize_t>{3, 2, 2}));
  EXPECT_EQ(raw.dims("/runs/0/routing/weights"), (std::vector<hsize_t>{3, 2, 2}));
  EXPECT_EQ(raw.dims("/runs/0/routing/dropped"), (std::vector<hsize_t>{3, 2}));
  EXPECT_EQ(raw.dims("/runs/0/logits"), (std::vector<hsize_t>{3, 3}));
  EXPECT_EQ(raw.dims("/runs/0/timing/step_ns"), (std::vector<hsize_t>{2}));
  using T = std::tuple<H5T_class_t, size_t, bool>;
  EXPECT_EQ(raw.type("/runs/0/tokens/ids"), T(H5T_INTEGER, 8, true));
  EXPECT_EQ(raw.type("/runs/0/tokens/is_prompt"), T(H5T_INTEGER, 1, false));
  EXPECT_EQ(raw.type("/runs/0/routing/layers"), T(H5T_INTEGER, 4, true));
  EXPECT_EQ(raw.type("/runs/0/routing/logits"), T(H5T_FLOAT, 4, false));
  EXPECT_EQ(raw.type("/runs/0/routing/experts"), T(H5T_INTEGER, 4, true));
  EXPECT_EQ(raw.type("/runs/0/routing/weights"), T(H5T_FLOAT, 4, false));
  EXPECT_EQ(raw.type("/runs/0/routing/dropped"), T(H5T_INTEGER, 1, false));
  EXPECT_EQ(raw.type("/runs/0/logits"), T(H5T_FLOAT, 4, false));
  EXPECT_EQ(raw.type("/runs/0/timing/step_ns"), T(H5T_INTEGER, 8, true));
  EXPECT_EQ(std::get<0>(raw.type("/runs/0/tokens/text")), H5T_STRING);
  // the padding -1 of token 0 at layer 1 and values of experts, read raw
  hid_t d = H5Dopen2(raw.f, "/runs/0/routing/experts", H5P_DEFAULT);
  std::vector<int32_t> ex(12);
  H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, ex.data());
  H5Dclose(d);
  EXPECT_EQ(ex, (std::vector<int32_t>{0, 1, 2, -1, 3, 2, 1, 0, 2, 0, 3, 1}));
}

TEST(TraceFile, RoundTripSeveralRunsAndExtras) {
  const std::string path = test::temp_dir("trace") + "/multi.h5";
  std::vector<RunData> runs;
  for (const char* n : {"0", "2", "10", "1"}) runs.push_back(sample_run(n));
  runs[1].strategy = "capacity:1.0";
  runs[2].vocab_size = 2;
  runs[2].next_logits = {1, 2, 3, 4, 5, 6};
  {
    auto f = TraceFile::create(path);
    for (const RunData& r : runs) f->write_run(r);
    h5::Id cmp = f->group("comparison");
    h5::write_attr(cmp, "strategies", std::string("topk:2,capacity:1.0"));
    h5::write_dataset<double>(cmp, "agreement", {2}, std::vector<double>{0.5, 0.25});
  }
  TraceReader reader(path);
  EXPECT_EQ(reader.info().version, 1);
  EXPECT_EQ(reader.info().runs, (std::vector<std::string>{"0", "1", "2", "10"}));
  for (const RunData& r : runs) {
    RunData back = reader.read_run(r.name);
    expect_same(r, back);
    EXPECT_TRUE(back.complete);
    EXPECT_EQ(back.extra_attrs.at("sampling"), "greedy");
    EXPECT_DOUBLE_EQ(back.extra_num_attrs.at("temperature"), 0.7);
  }
  EXPECT_EQ(read_trace(path).size(), 4u);
  h5::Id cmp = h5::open_group(reader.file(), "comparison");
  EXPECT_EQ(h5::read_attr_string(cmp, "strategies").value(), "topk:2,capacity:1.0");
  EXPECT_EQ(h5::read_dataset<double>(cmp, "agreement"), (std::vector<double>{0.5, 0.25}));
  EXPECT_THROW(reader.read_run("nope"), Error);
}

TEST(TraceWriter, StreamsWhatTheRecorderSaw) {
  const std::string path = test::temp_dir("trace") + "/stream.h5";
  RunData expected;
  {
    TraceWriterOptions opt;
    opt.record_logits = true;
    opt.max_queued = 2;  // exercise back-pressure
    TraceWriter w(path, opt);
    RunData meta;
    meta.model = "synthetic";
    meta.strategy = "native";
    w.begin_run(meta);
    w.set_decoder([](int32_t id) { return "tok" + std::to_string(id); });
    test::SinkDriver drv;
    drv.vocab = 5;
    drv.step(w, 0, 6, true);
    for (int p = 6; p < 40; ++p) drv.step(w, p, 1, false);
    // rewind to 30 and regenerate 30..34 with a wider selection (K 2 -> 3)
    w.on_rewind(30);
    drv.k = 3;
    for (int p = 30; p < 35; ++p) drv.step(w, p, 1, false);
    expected = w.end_run();
    w.post([](TraceFile& f) { h5::write_attr(f.group("comparison"), "note", std::string("posted")); });
    w.close();
  }
  ASSERT_EQ(expected.num_tokens(), 35);
  ASSERT_EQ(expected.k_max, 3);
  // independent expectations from the driver's formulas
  for (int p = 0; p < 35; ++p) {
    const int k = p >= 30 ? 3 : 2;
    EXPECT_EQ(expected.token_ids[size_t(p)], test::SinkDriver::token(p));
    EXPECT_EQ(expected.token_text[size_t(p)], "tok" + std::to_string(test::SinkDriver::token(p)));
    for (int l = 0; l < 2; ++l) {
      EXPECT_EQ(expected.logits_at(p, l)[3], test::SinkDriver::logit(p, l, 3));
      for (int j = 0; j < 3; ++j)
        EXPECT_EQ(expected.experts_at(p, l)[j], j < k ? test::SinkDriver::expert(p, l, j, 4) : -1) << p << " " << l << " " << j;
      EXPECT_EQ(expected.dropped_at(p, l), p % 5 == 4);
    }
    EXPECT_EQ(expected.next_logits[size_t(p) * 5 + 2], test::SinkDriver::next_logit(p, 2));
  }
  EXPECT_EQ(expected.num_steps(), 1 + 24 + 5);  // steps at 30..39 were undone by the rewind
  TraceReader reader(path);
  ASSERT_EQ(reader.info().runs, std::vector<std::string>{"0"});
  RunData back = reader.read_run("0");
  EXPECT_TRUE(back.complete);
  EXPECT_EQ(back.vocab_size, 5);
  expect_same(expected, back);
  EXPECT_EQ(h5::read_attr_string(h5::open_group(reader.file(), "comparison"), "note").value(), "posted");
}

// keep_logits = false: next-token logits go to the file only (data() stays small).
TEST(TraceWriter, LogitsPassThroughWithoutKeeping) {
  const std::string path = test::temp_dir("trace") + "/pass.h5";
  RunData kept;
  {
    TraceWriterOptions opt;
    opt.record_logits = true;
    opt.keep_logits = false;
    TraceWriter w(path, opt);
    EXPECT_TRUE(w.wants_all_logits());
    w.begin_run(RunData());
    test::SinkDriver drv;
    drv.vocab = 7;
    drv.step(w, 0, 4, true);
    for (int p = 4; p < 30; ++p) drv.step(w, p, 1, false);
    EXPECT_TRUE(w.data().next_logits.empty());
    kept = w.end_run();
    w.close();
  }
  EXPECT_TRUE(kept.next_logits.empty());
  RunData back = TraceReader(path).read_run("0");
  ASSERT_EQ(back.num_tokens(), 30);
  ASSERT_EQ(back.vocab_size, 7);
  ASSERT_EQ(back.next_logits.size(), size_t(30 * 7));
  for (int p = 0; p < 30; ++p)
    for (int v = 0; v < 7; ++v) EXPECT_EQ(back.next_logits[size_t(p) * 7 + v], test::SinkDriver::next_logit(p, v));
  back.next_logits.clear();
  back.vocab_size = 0;
  kept.vocab_size = 0;
  expect_same(kept, back);
}

TEST(TraceWriter, SeveralRunsInOneFile) {
  const std::string path = test::temp_dir("trace") + "/runs.h5";
  {
    TraceWriter w(path);
    for (int i = 0; i < 3; ++i) {
      RunData meta;
      meta.name = std::to_string(i);
      meta.label = i == 1 ? "csv" : "python";
      w.begin_run(meta);
      test::SinkDriver drv;
      drv.step(w, 0, 3 + i, true);
      drv.step(w, 3 + i, 1, false);
    }
    w.close();
  }
  auto runs = read_trace(path);
  ASSERT_EQ(runs.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(runs[size_t(i)].num_tokens(), 4 + i);
    EXPECT_EQ(runs[size_t(i)].num_steps(), 2);
    EXPECT_TRUE(runs[size_t(i)].complete);
  }
  EXPECT_EQ(runs[1].label, "csv");
}

TEST(TraceWriter, DestroyedMidRunMarksTheRunIncomplete) {
  const std::string path = test::temp_dir("trace") + "/aborted.h5";
  {
    TraceWriter w(path);
    w.begin_run(RunData());
    test::SinkDriver drv;
    drv.step(w, 0, 5, true);
    drv.step(w, 5, 1, false);
  }  // no end_run / close: as when an exception unwinds `moescope trace`
  const RunData r = TraceReader(path).read_run("0");
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.num_tokens(), 6);
  EXPECT_EQ(r.num_steps(), 2);
}

TEST(TraceWriter, BadPathFailsAtOnce) {
  EXPECT_THROW(TraceWriter("/nonexistent-dir/x/y.h5"), Error);
}

// A child process writes steps slowly and is killed with SIGKILL; the file must open with a prefix
// of complete steps, each row matching the driver's formulas.
TEST(TraceWriter, SurvivesSigkill) {
  const std::string dir = test::temp_dir("trace");
  const std::string path = dir + "/killed.h5";
  const std::string progress = dir + "/progress";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    TraceWriter w(path);
    RunData meta;
    meta.model = "synthetic";
    w.begin_run(meta);
    test::SinkDriver drv;
    drv.step(w, 0, 8, true);
    for (int p = 8; p < 1000000; ++p) {
      drv.step(w, p, 1, false);
      if (p == 200) std::ofstream(progress) << "go";
      usleep(200);
    }
    _exit(0);
  }
  for (int i = 0; i < 3000 && !fs::exists(progress); ++i) usleep(10000);
  ASSERT_TRUE(fs::exists(progress));
  usleep(300000);  // the child keeps stepping; its writer catches up and flushes
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));

  TraceReader reader(path);
  RunData r = reader.read_run("0");
  EXPECT_FALSE(r.complete);
  EXPECT_GE(r.num_tokens(), 150);
  EXPECT_EQ(int(r.step_ns.size()), r.num_tokens() - 8 + 1);  // flushed steps = flushed rows
  for (int p = 0; p < r.num_tokens(); ++p) {
    ASSERT_EQ(r.token_ids[size_t(p)], test::SinkDriver::token(p)) << p;
    ASSERT_EQ(r.experts_at(p, 1)[1], test::SinkDriver::expert(p, 1, 1, 4)) << p;
    ASSERT_EQ(r.logits_at(p, 0)[2], test::SinkDriver::logit(p, 0, 2)) << p;
  }
}

TEST(TraceReader, ClearErrors) {
  const std::string dir = test::temp_dir("trace");
  auto message = [](const std::string& path) {
    try {
      TraceReader r(path);
      r.read_all();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(dir + "/missing.h5"), dir + "/missing.h5: no such file");
  {
    std::ofstream(dir + "/text.h5") << "hello, not hdf5\n";
  }
  EXPECT_NE(message(dir + "/text.h5").find("not an HDF5 file"), std::string::npos);
  {
    h5::Id f = h5::create_file(dir + "/foreign.h5");
    h5::create_group(f, "data");
  }
  EXPECT_EQ(message(dir + "/foreign.h5"), dir + "/foreign.h5: not a MoEScope trace (no format attribute)");
  {
    h5::Id f = h5::create_file(dir + "/other.h5");
    h5::write_attr(f, "format", std::string("something-else"));
  }
  EXPECT_EQ(message(dir + "/other.h5"), dir + "/other.h5: not a MoEScope trace (format is 'something-else')");
  {
    h5::Id f = h5::create_file(dir + "/v2.h5");
    h5::write_attr(f, "format", std::string("moescope-trace"));
    h5::write_attr(f, "version", int64_t(2));
  }
  EXPECT_EQ(message(dir + "/v2.h5"), dir + "/v2.h5: trace version 2 is newer than this MoEScope (reads 1)");
  // a run whose weights disagree with experts
  {
    auto f = TraceFile::create(dir + "/bad_shape.h5");
    f->write_run(sample_run("0"));
    h5::Id routing = h5::open_group(f->id(), "runs/0/routing");
    H5Ldelete(routing, "weights", H5P_DEFAULT);
    h5::write_dataset<float>(routing, "weights", {3, 2, 5}, std::vector<float>(30, 0.0f));
  }
  EXPECT_EQ(message(dir + "/bad_shape.h5"),
            dir + "/bad_shape.h5: run '0': routing/weights has shape [3,2,5], expected [3,2,2]");
  {
    auto f = TraceFile::create(dir + "/missing_ds.h5");
    f->write_run(sample_run("0"));
    H5Ldelete(f->id(), "runs/0/routing/dropped", H5P_DEFAULT);
  }
  EXPECT_EQ(message(dir + "/missing_ds.h5"), dir + "/missing_ds.h5: run '0': missing dataset routing/dropped");
}

// HDF5 1.10 crashes (H5HG_read) on a string whose heap reference is corrupt; the reader checks the
// references first. Damage the object index and then the collection address of one stored string.
TEST(TraceReader, CorruptStringReferencesGiveErrors) {
  const std::string dir = test::temp_dir("trace");
  const std::string good = dir + "/strings.h5";
  {
    auto f = TraceFile::create(good);
    f->write_run(sample_run("0"));
  }
  haddr_t chunk = 0;
  {
    h5::Id file = h5::open_file(good);
    h5::Id ds(H5Dopen2(file, "runs/0/tokens/text", H5P_DEFAULT));
    h5::Id space(H5Dget_space(ds));
    hsize_t offset = 0, size = 0;
    unsigned mask = 0;
    ASSERT_GE(H5Dget_chunk_info(ds, space, 0, &offset, &mask, &chunk, &size), 0);
  }
  std::ifstream in(good, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // element 1 (" w\xc3\xb6rld", 7 bytes): length u32, collection address u64, index u32
  const size_t e1 = size_t(chunk) + 16;
  uint32_t len = 0;
  std::memcpy(&len, bytes.data() + e1, 4);
  ASSERT_EQ(len, 7u);  // the layout this test assumes
  for (int field : {12, 4}) {
    std::string c = bytes;
    if (field == 12) {
      const uint32_t bad_index = 60000;
      std::memcpy(c.data() + e1 + 12, &bad_index, 4);
    } else {
      const uint64_t bad_addr = 24;  // inside the superblock
      std::memcpy(c.data() + e1 + 4, &bad_addr, 8);
    }
    const std::string p = dir + "/bad" + std::to_string(field) + ".h5";
    std::ofstream(p, std::ios::binary).write(c.data(), std::streamsize(c.size()));
    try {
      read_trace(p);
      ADD_FAILURE() << "no error for a corrupt string reference (field " << field << ")";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), p + ": run '0': tokens/text: corrupt string storage (damaged file)");
    }
  }
}

TEST(TraceReader, TruncatedAndCorruptFilesGiveErrors) {
  const std::string dir = test::temp_dir("trace");
  const std::string good = dir + "/good.h5";
  {
    auto f = TraceFile::create(good);
    for (int i = 0; i < 3; ++i) {
      RunData r = sample_run(std::to_string(i));
      f->write_run(r);
    }
  }
  const auto size = fs::file_size(good);
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int errors = 0, ok = 0;
  // truncations at many lengths and byte flips at many offsets: each either reads or throws Error
  for (size_t cut : {size_t(0), size_t(8), size_t(100), size_t(512), size / 4, size / 2, size - 100, size - 1}) {
    const std::string p = dir + "/cut" + std::to_string(cut) + ".h5";
    std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(cut));
    try {
      read_trace(p);
      ++ok;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
      ++errors;
    }
  }
  EXPECT_GE(errors, 6);
  for (size_t off = 0; off < bytes.size(); off += bytes.size() / 97 + 1) {
    std::string c = bytes;
    for (size_t i = off; i < std::min(off + 16, c.size()); ++i) c[i] = char(c[i] ^ 0x5a);
    const std::string p = dir + "/flip.h5";
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(c.data(), std::streamsize(c.size()));
    try {
      read_trace(p);
      ++ok;
    } catch (const Error&) {
      ++errors;
    }
  }
  SUCCEED() << ok << " readable, " << errors << " errors";
}

// Random bit flips everywhere in a trace: some land in object headers where HDF5 1.10 itself crashes
// (seen about 2 in 400 before the guard). Every one must read or give an Error naming the file; the
// test process surviving all of them is the assertion that the child-process guard works.
TEST(TraceReader, RandomBitFlipsNeverCrashTheReader) {
  const std::string dir = test::temp_dir("trace-flips");
  const std::string good = dir + "/good.h5";
  {
    auto f = TraceFile::create(good);
    for (int i = 0; i < 2; ++i) {
      RunData r = sample_run(std::to_string(i));
      f->write_run(r);
    }
  }
  std::ifstream in(good, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::mt19937 rng(20261123);
  int ok = 0, errors = 0, crashes_caught = 0;
  for (int m = 0; m < 400; ++m) {
    std::string c = bytes;
    for (int f = 0; f < 4; ++f) {
      const size_t at = rng() % c.size();
      c[at] = char(c[at] ^ (1 << (rng() % 8)));
    }
    const std::string p = dir + "/m.h5";
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(c.data(), std::streamsize(c.size()));
    try {
      read_trace(p);
      ++ok;
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind(p, 0), 0u) << what;
      if (what.find("HDF5 library crashed") != std::string::npos) ++crashes_caught;
      ++errors;
    }
  }
  EXPECT_EQ(ok + errors, 400);
  std::printf("bit-flip mutants: %d readable, %d errors (%d HDF5 crashes caught in the child)\n", ok, errors,
              crashes_caught);
}
