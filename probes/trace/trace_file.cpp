// TraceFile and TraceRunStream: writing the HDF5 trace layout (see trace_file.h, docs/trace-format.md).
#include "probes/trace/trace_file.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "engine/util/error.h"

namespace moescope {

namespace probes {
std::string version();
}

static std::string iso8601_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void write_run_attrs(hid_t g, const RunData& m) {
  for (const auto& [k, v] : m.extra_attrs) h5::write_attr(g, k, v);
  for (const auto& [k, v] : m.extra_num_attrs) h5::write_attr(g, k, v);
  h5::write_attr(g, "model", m.model);
  h5::write_attr(g, "family", m.family);
  h5::write_attr(g, "model_config", m.model_config);
  h5::write_attr(g, "strategy", m.strategy);
  h5::write_attr(g, "backend", m.backend);
  h5::write_attr(g, "tokenizer", m.tokenizer_sha256);
  h5::write_attr(g, "prompt", m.prompt);
  h5::write_attr(g, "label", m.label);
  h5::write_attr(g, "num_experts", int64_t(m.num_experts));
  h5::write_attr(g, "k_max", int64_t(m.k_max));
}

TraceRunStream::TraceRunStream(hid_t file, const RunData& meta, bool with_logits) {
  const std::string path = "runs/" + meta.name;
  if (h5::exists(file, path)) throw Error("trace already has a run named '" + meta.name + "'");
  m_group = h5::create_group(file, path);
  write_run_attrs(m_group, meta);
  h5::write_attr(m_group, "complete", int64_t(0));
  h5::write_attr(m_group, "next_token", int64_t(-1));
  m_m = meta.num_moe_layers();
  m_e = meta.num_experts;
  m_k = meta.k_max;
  m_v = meta.vocab_size;
  m_logits = with_logits && m_v > 0;
  const hsize_t M = hsize_t(m_m), E = hsize_t(m_e), K = hsize_t(m_k);

  h5::Id tokens = h5::create_group(m_group, "tokens");
  h5::Id routing = h5::create_group(m_group, "routing");
  h5::Id timing = h5::create_group(m_group, "timing");
  const int64_t id_fill = -1;
  const int32_t ex_fill = -1;
  const float zero = 0.0f;
  const uint8_t zero8 = 0;
  h5::Id str = h5::string_type();
  m_ids.create(tokens, "ids", H5T_STD_I64LE, {}, &id_fill);
  m_text.create(tokens, "text", str, {});
  m_is_prompt.create(tokens, "is_prompt", H5T_STD_U8LE, {}, &zero8);
  std::vector<int32_t> layers(meta.moe_layers.begin(), meta.moe_layers.end());
  h5::write_dataset<int32_t>(routing, "layers", {M}, layers);
  m_router_logits.create(routing, "logits", H5T_IEEE_F32LE, {M, E}, &zero);
  m_experts.create(routing, "experts", H5T_STD_I32LE, {M, K}, &ex_fill);
  m_weights.create(routing, "weights", H5T_IEEE_F32LE, {M, K}, &zero);
  m_dropped.create(routing, "dropped", H5T_STD_U8LE, {M}, &zero8);
  if (m_logits) m_next_logits.create(m_group, "logits", H5T_IEEE_F32LE, {hsize_t(m_v)}, &zero, 256 * 1024);
  const int64_t zero64 = 0;
  const int32_t neg = -1;
  m_step_ns.create(timing, "step_ns", H5T_STD_I64LE, {}, &zero64);
  m_step_tokens.create(timing, "step_tokens", H5T_STD_I32LE, {}, &neg);
  m_step_prefill.create(timing, "step_prefill", H5T_STD_U8LE, {}, &zero8);
  m_step_first.create(timing, "step_first_position", H5T_STD_I32LE, {}, &neg);
}

void TraceRunStream::write_tokens(const RunData& b, int first) {
  const hsize_t n = hsize_t(b.num_tokens());
  if (n == 0) return;
  if (b.num_moe_layers() != m_m || b.num_experts != m_e)
    throw Error("trace run: block shape [M=" + std::to_string(b.num_moe_layers()) + ", E=" + std::to_string(b.num_experts) +
                "] does not match the run's [M=" + std::to_string(m_m) + ", E=" + std::to_string(m_e) + "]");
  if (b.k_max > m_k) {
    m_k = b.k_max;
    m_experts.grow_dim(2, hsize_t(m_k));
    m_weights.grow_dim(2, hsize_t(m_k));
  }
  const hsize_t f = hsize_t(first);
  m_ids.write_rows(f, n, H5T_NATIVE_INT64, b.token_ids.data());
  std::vector<std::string> text(b.token_text);
  text.resize(n);
  h5::write_string_rows(m_text, f, text);
  m_is_prompt.write_rows(f, n, H5T_NATIVE_UINT8, b.is_prompt.data());
  m_router_logits.write_rows(f, n, H5T_NATIVE_FLOAT, b.router_logits.data());
  if (b.k_max == m_k) {
    m_experts.write_rows(f, n, H5T_NATIVE_INT32, b.experts.data());
    m_weights.write_rows(f, n, H5T_NATIVE_FLOAT, b.weights.data());
  } else {  // a narrower block (K grew in an earlier one): pad its rows to the file's K
    const size_t rows = size_t(n) * size_t(m_m), bk = size_t(b.k_max), fk = size_t(m_k);
    std::vector<int32_t> ex(rows * fk, -1);
    std::vector<float> w(rows * fk, 0.0f);
    for (size_t r = 0; r < rows; ++r)
      for (size_t j = 0; j < bk; ++j) {
        ex[r * fk + j] = b.experts[r * bk + j];
        w[r * fk + j] = b.weights[r * bk + j];
      }
    m_experts.write_rows(f, n, H5T_NATIVE_INT32, ex.data());
    m_weights.write_rows(f, n, H5T_NATIVE_FLOAT, w.data());
  }
  m_dropped.write_rows(f, n, H5T_NATIVE_UINT8, b.dropped.data());
  if (m_logits) {
    if (b.vocab_size == m_v && b.next_logits.size() == size_t(n) * size_t(m_v)) {
      m_next_logits.write_rows(f, n, H5T_NATIVE_FLOAT, b.next_logits.data());
    } else {
      m_next_logits.set_rows(std::max<hsize_t>(m_next_logits.rows(), f + n));  // rows read as fill (0)
    }
  }
}

void TraceRunStream::write_next_logits(int first, int rows, int vocab, const float* data) {
  if (!m_logits || rows <= 0) return;
  if (vocab != m_v)
    throw Error("trace run: next-token logits have " + std::to_string(vocab) + " columns, the run has V=" + std::to_string(m_v));
  m_next_logits.write_rows(hsize_t(first), hsize_t(rows), H5T_NATIVE_FLOAT, data);
}

void TraceRunStream::write_steps(const RunData& b, int first) {
  const hsize_t n = hsize_t(b.num_steps());
  if (n == 0) return;
  const hsize_t f = hsize_t(first);
  m_step_ns.write_rows(f, n, H5T_NATIVE_INT64, b.step_ns.data());
  std::vector<int32_t> tokens(b.step_tokens), firstpos(b.step_first_position);
  std::vector<uint8_t> prefill(b.step_prefill);
  tokens.resize(n, -1);
  firstpos.resize(n, -1);
  prefill.resize(n, 0);
  m_step_tokens.write_rows(f, n, H5T_NATIVE_INT32, tokens.data());
  m_step_prefill.write_rows(f, n, H5T_NATIVE_UINT8, prefill.data());
  m_step_first.write_rows(f, n, H5T_NATIVE_INT32, firstpos.data());
}

void TraceRunStream::truncate(int tokens, int steps) {
  const hsize_t n = hsize_t(std::max(tokens, 0));
  if (n < m_ids.rows()) {
    for (h5::GrowableDataset* d : {&m_ids, &m_text, &m_is_prompt, &m_router_logits, &m_experts, &m_weights, &m_dropped})
      d->set_rows(n);
    if (m_logits) m_next_logits.set_rows(std::min(n, m_next_logits.rows()));
  }
  const hsize_t s = hsize_t(std::max(steps, 0));
  if (s < m_step_ns.rows())
    for (h5::GrowableDataset* d : {&m_step_ns, &m_step_tokens, &m_step_prefill, &m_step_first}) d->set_rows(s);
}

void TraceRunStream::finish(int64_t next_token, bool complete) {
  h5::write_attr(m_group, "next_token", next_token);
  h5::write_attr(m_group, "complete", int64_t(complete ? 1 : 0));
}

std::unique_ptr<TraceFile> TraceFile::create(const std::string& path) {
  std::unique_ptr<TraceFile> f(new TraceFile(path));
  f->m_file = h5::create_file(path);
  h5::write_attr(f->m_file, "format", kTraceFormat);
  h5::write_attr(f->m_file, "version", int64_t(kTraceVersion));
  h5::write_attr(f->m_file, "created", iso8601_now());
  h5::write_attr(f->m_file, "engine_version", probes::version());
  h5::create_group(f->m_file, "runs");
  f->flush();
  return f;
}

TraceFile::~TraceFile() {
  try {
    close();
  } catch (...) {
  }
}

void TraceFile::write_run(const RunData& run) {
  TraceRunStream s(m_file, run, run.has_next_logits());
  s.write_tokens(run, 0);
  s.write_steps(run, 0);
  s.finish(run.next_token, run.complete);
}

std::unique_ptr<TraceRunStream> TraceFile::begin_run(const RunData& meta, bool with_logits) {
  return std::make_unique<TraceRunStream>(m_file, meta, with_logits);
}

h5::Id TraceFile::group(const std::string& path) { return h5::open_or_create_group(m_file, path); }

void TraceFile::flush() {
  if (m_file.valid() && H5Fflush(m_file, H5F_SCOPE_GLOBAL) < 0) throw Error(m_path + ": cannot flush (disk full?)");
}

void TraceFile::ensure_space(uint64_t bytes) {
  if (!m_file.valid()) throw Error(m_path + ": trace file was given up after an earlier write error");
  const uint64_t need = 2 * bytes + (256u << 10);
  struct stat st{};
  const uint64_t size = ::stat(m_path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
  std::string why;
  struct rlimit lim{};
  if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && size + need > uint64_t(lim.rlim_cur))
    why = "file size limit of " + std::to_string(uint64_t(lim.rlim_cur)) + " bytes reached";
  const size_t slash = m_path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : m_path.substr(0, slash);
  struct statvfs vfs{};
  if (why.empty() && ::statvfs(dir.c_str(), &vfs) == 0 && uint64_t(vfs.f_bavail) * vfs.f_frsize < need)
    why = "no space left on device";
  if (why.empty()) return;
  abandon();
  throw Error(m_path + ": disk full (" + why + "); the trace keeps what was written before");
}

void TraceFile::abandon() {
  // Point HDF5's file descriptor at a read-only one: any later write (closing ids, library shutdown)
  // fails instead of overwriting the consistent state of the last flush. The id is leaked on purpose.
  void* handle = nullptr;
  if (H5Fget_vfd_handle(m_file, H5P_DEFAULT, &handle) >= 0 && handle) {
    const int ro = ::open(m_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ro >= 0) {
      ::dup2(ro, *static_cast<int*>(handle));
      ::close(ro);
    }
  }
  (void)m_file.release();
}

void TraceFile::close() {
  if (!m_file.valid()) return;
  flush();
  m_file.reset();
}

}  // namespace moescope
