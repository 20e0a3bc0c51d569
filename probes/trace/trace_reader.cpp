// TraceReader (see trace_reader.h, docs/trace-format.md).
#include "probes/trace/trace_reader.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "engine/util/error.h"
#include "probes/trace/trace_file.h"

namespace moescope {

std::vector<RunData> read_trace_unprobed(const std::string& path);

static std::string shape_str(const std::vector<hsize_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

// The probe executable (app/trace_probe_main.cpp): $MOESCOPE_TRACE_PROBE, else beside this executable in
// an install (bin/ + lib/moescope/) or a build tree (app/, tests/).
static std::string find_probe() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("MOESCOPE_TRACE_PROBE"); env && *env) return env;
  std::error_code ec;
  const fs::path exe_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  if (ec) return {};
  for (const fs::path& p : {exe_dir / "moescope-trace-probe", exe_dir / "../lib/moescope/moescope-trace-probe",
                            exe_dir / "../app/moescope-trace-probe"})
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  return {};
}

// Starts the child that reads `path`: the probe executable when there is one (a fresh process, safe to
// start from a multi-threaded caller such as the GUI), else a fork of this process that reads it (only
// malloc-style locks survive a fork safely: glibc's do, AddressSanitizer's allocator in GCC 12 does not).
static pid_t start_child(const std::string& path) {
  static const std::string probe = find_probe();
  if (!probe.empty()) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    std::string a0 = probe, a1 = path;
    char* argv[] = {a0.data(), a1.data(), nullptr};
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, probe.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc == 0) return pid;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 0;
    try {
      (void)read_trace_unprobed(path);
    } catch (...) {
      code = 1;
    }
    ::_exit(code);
  }
  return pid;
}

// Reads every run of `path` in a child process; throws if the child was killed by a signal (a crash
// inside HDF5) or did not finish in time. Errors the reader reports cleanly are left to the caller's
// own read, which gives the same message.
static void read_in_child_first(const std::string& path) {
  const pid_t pid = start_child(path);
  if (pid < 0) return;  // cannot start a child: fall back to reading directly
  // Generous for a healthy file (10 s plus 1 s per 20 MB); corrupt headers can send HDF5 into a loop.
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(path, ec);
  const auto limit = std::chrono::seconds(10 + (ec ? 0 : int64_t(bytes / (20u << 20))));
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0) return;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throw Error(path + ": corrupt HDF5 file (reading it did not finish within " + std::to_string(limit.count()) +
                  " s)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (WIFSIGNALED(status))
    throw Error(path + ": corrupt HDF5 file (the HDF5 library crashed reading it: " +
                std::string(::strsignal(WTERMSIG(status))) + ")");
}

TraceReader::TraceReader(const std::string& path, bool probe_in_child) : m_path(path) {
  h5::quiet();
  if (probe_in_child) read_in_child_first(path);
  const std::string name = std::filesystem::path(path).filename().string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(path + ": no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0) throw Error(path + ": not an HDF5 file (not a MoEScope trace)");
  m_file = h5::Id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!m_file.valid()) throw Error(path + ": cannot open (corrupt or truncated HDF5 file)");
  std::optional<std::string> format;
  try {
    format = h5::read_attr_string(m_file, "format");
  } catch (const Error&) {
    throw Error(path + ": not a MoEScope trace (format attribute is not a string)");
  }
  if (!format) throw Error(path + ": not a MoEScope trace (no format attribute)");
  if (*format != kTraceFormat) throw Error(path + ": not a MoEScope trace (format is '" + *format + "')");
  std::optional<int64_t> version;
  try {
    version = h5::read_attr_int(m_file, "version");
  } catch (const Error&) {
    throw Error(path + ": trace version attribute is not an integer");
  }
  if (!version) throw Error(path + ": trace has no version attribute");
  if (*version > kTraceVersion)
    throw Error(path + ": trace version " + std::to_string(*version) + " is newer than this MoEScope (reads " +
                std::to_string(kTraceVersion) + ")");
  if (*version < 1) throw Error(path + ": invalid trace version " + std::to_string(*version));
  m_info.path = path;
  m_info.version = int(*version);
  try {
    m_info.created = h5::read_attr_string(m_file, "created").value_or("");
    m_info.engine_version = h5::read_attr_string(m_file, "engine_version").value_or("");
  } catch (const Error&) {
  }
  if (h5::exists(m_file, "runs")) {
    h5::Id runs = h5::open_group(m_file, "runs");
    m_info.runs = h5::child_names(runs);
    auto numeric = [](const std::string& s) {
      return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    std::stable_sort(m_info.runs.begin(), m_info.runs.end(), [&](const std::string& a, const std::string& b) {
      const bool na = numeric(a), nb = numeric(b);
      if (na && nb) return std::stol(a) < std::stol(b);
      if (na != nb) return na;  // numbered runs first
      return a < b;
    });
  }
}

RunData TraceReader::read_run(const std::string& name) const {
  const std::string where = m_path + ": run '" + name + "'";
  if (!h5::exists(m_file, "runs/" + name)) throw Error(where + ": no such run");
  try {
    h5::Id g = h5::open_group(m_file, "runs/" + name);
    RunData r;
    r.name = name;
    auto attr = [&](const char* key) { return h5::read_attr_string(g, key).value_or(""); };
    r.model = attr("model");
    r.family = attr("family");
    r.model_config = attr("model_config");
    r.strategy = attr("strategy");
    r.backend = attr("backend");
    r.tokenizer_sha256 = attr("tokenizer");
    r.prompt = attr("prompt");
    r.label = attr("label");
    r.next_token = h5::read_attr_int(g, "next_token").value_or(-1);
    r.complete = h5::read_attr_int(g, "complete").value_or(1) != 0;
    static const char* core[] = {"model", "family", "model_config", "strategy", "backend", "tokenizer",
                                 "prompt", "label", "next_token", "complete", "num_experts", "k_max"};
    for (const std::string& a : h5::attr_names(g)) {
      if (std::find(std::begin(core), std::end(core), a) != std::end(core)) continue;
      h5::Id at(H5Aopen(g, a.c_str(), H5P_DEFAULT));
      h5::Id t(H5Aget_type(at));
      const H5T_class_t c = H5Tget_class(t);
      if (c == H5T_STRING) r.extra_attrs[a] = h5::read_attr_string(g, a).value_or("");
      else if (c == H5T_INTEGER || c == H5T_FLOAT) r.extra_num_attrs[a] = h5::read_attr_double(g, a).value_or(0);
    }

    // Shapes first: everything must agree on M, E, K, V; N and S are the common prefix.
    auto dims = [&](const std::string& ds) {
      if (!h5::exists(g, ds)) throw Error(where + ": missing dataset " + ds);
      return h5::dataset_dims(g, ds);
    };
    auto expect_rank = [&](const std::string& ds, const std::vector<hsize_t>& d, size_t rank) {
      if (d.size() != rank)
        throw Error(where + ": " + ds + " has shape " + shape_str(d) + ", expected rank " + std::to_string(rank));
    };
    const auto d_ids = dims("tokens/ids"), d_text = dims("tokens/text"), d_prompt = dims("tokens/is_prompt");
    const auto d_layers = dims("routing/layers"), d_logits = dims("routing/logits"),
               d_experts = dims("routing/experts"), d_weights = dims("routing/weights"),
               d_dropped = dims("routing/dropped"), d_step = dims("timing/step_ns");
    expect_rank("tokens/ids", d_ids, 1);
    expect_rank("tokens/text", d_text, 1);
    expect_rank("tokens/is_prompt", d_prompt, 1);
    expect_rank("routing/layers", d_layers, 1);
    expect_rank("routing/logits", d_logits, 3);
    expect_rank("routing/experts", d_experts, 3);
    expect_rank("routing/weights", d_weights, 3);
    expect_rank("routing/dropped", d_dropped, 2);
    expect_rank("timing/step_ns", d_step, 1);
    const hsize_t M = d_layers[0], E = d_logits[2], K = d_experts[2];
    auto expect_trailing = [&](const std::string& ds, const std::vector<hsize_t>& d, std::vector<hsize_t> want) {
      for (size_t i = 0; i < want.size(); ++i)
        if (d[i + 1] != want[i]) {
          std::vector<hsize_t> w{d[0]};
          w.insert(w.end(), want.begin(), want.end());
          throw Error(where + ": " + ds + " has shape " + shape_str(d) + ", expected " + shape_str(w));
        }
    };
    expect_trailing("routing/logits", d_logits, {M, E});
    expect_trailing("routing/experts", d_experts, {M, K});
    expect_trailing("routing/weights", d_weights, {M, K});
    expect_trailing("routing/dropped", d_dropped, {M});
    hsize_t N = std::min({d_ids[0], d_text[0], d_prompt[0], d_logits[0], d_experts[0], d_weights[0], d_dropped[0]});
    const bool ragged = N != std::max({d_ids[0], d_text[0], d_prompt[0], d_logits[0], d_experts[0], d_weights[0], d_dropped[0]});
    bool with_logits = h5::exists(g, "logits");
    hsize_t V = 0;
    if (with_logits) {
      const auto d = h5::dataset_dims(g, "logits");
      expect_rank("logits", d, 2);
      V = d[1];
      if (d[0] < N) N = d[0];  // a killed writer may be one step behind here
    }
    hsize_t S = d_step[0];
    std::vector<std::string> step_sets = {"timing/step_tokens", "timing/step_prefill", "timing/step_first_position"};
    for (const std::string& ds : step_sets)
      if (h5::exists(g, ds)) {
        const auto d = h5::dataset_dims(g, ds);
        expect_rank(ds, d, 1);
        S = std::min(S, d[0]);
      }
    // Guard against absurd shapes in a corrupt header before allocating.
    const long double cells = (long double)N * M * std::max<hsize_t>(E, K) + (long double)N * V;
    if (cells > 4e9L) throw Error(where + ": dataset shapes are implausibly large (corrupt file?)");

    r.num_experts = int(E);
    r.k_max = int(K);
    r.vocab_size = int(V);
    r.moe_layers = h5::read_dataset<int32_t>(g, "routing/layers");
    const int64_t n = int64_t(N), s = int64_t(S);
    r.token_ids = h5::read_dataset<int64_t>(g, "tokens/ids", n);
    r.token_text = h5::read_strings(g, "tokens/text", n);
    r.is_prompt = h5::read_dataset<uint8_t>(g, "tokens/is_prompt", n);
    r.router_logits = h5::read_dataset<float>(g, "routing/logits", n);
    r.experts = h5::read_dataset<int32_t>(g, "routing/experts", n);
    r.weights = h5::read_dataset<float>(g, "routing/weights", n);
    r.dropped = h5::read_dataset<uint8_t>(g, "routing/dropped", n);
    if (with_logits) r.next_logits = h5::read_dataset<float>(g, "logits", n);
    r.step_ns = h5::read_dataset<int64_t>(g, "timing/step_ns", s);
    if (h5::exists(g, step_sets[0])) r.step_tokens = h5::read_dataset<int32_t>(g, step_sets[0], s);
    if (h5::exists(g, step_sets[1])) r.step_prefill = h5::read_dataset<uint8_t>(g, step_sets[1], s);
    if (h5::exists(g, step_sets[2])) r.step_first_position = h5::read_dataset<int32_t>(g, step_sets[2], s);
    if (ragged) r.complete = false;
    return r;
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(m_path, 0) == 0) throw;
    throw Error(where + ": " + msg);
  }
}

std::vector<RunData> TraceReader::read_all() const {
  std::vector<RunData> out;
  for (const std::string& name : m_info.runs) out.push_back(read_run(name));
  return out;
}

std::vector<RunData> read_trace(const std::string& path) { return TraceReader(path).read_all(); }

std::vector<RunData> read_trace_unprobed(const std::string& path) { return TraceReader(path, false).read_all(); }

}  // namespace moescope
