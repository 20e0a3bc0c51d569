// Parsing and validation of the safetensors header; mmap of the whole file.
#include "engine/checkpoint/safetensors_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>

#include <nlohmann/json.hpp>

#include "engine/util/error.h"

namespace moescope {

namespace {

// safetensors itself refuses headers above 100 MB; a larger length means a corrupt or foreign file.
constexpr uint64_t kMaxHeader = 100ull * 1024 * 1024;

bool as_u64(const nlohmann::json& v, uint64_t& out) {
  if (v.is_number_unsigned()) { out = v.get<uint64_t>(); return true; }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) { out = uint64_t(v.get<int64_t>()); return true; }
  return false;
}

}  // namespace

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

SafetensorsFile::SafetensorsFile(const std::string& path, bool resident,
                                 const std::function<void(uint64_t)>& on_bytes)
    : m_path(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct CloseFd {
    int fd;
    ~CloseFd() { ::close(fd); }
  } close_fd{fd};  // a mapping keeps the file alive after this
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(path + ": cannot stat: " + std::strerror(errno));
  m_size = uint64_t(st.st_size);
  if (m_size < 8)
    throw Error(path + ": file is " + std::to_string(m_size) +
                " bytes, shorter than the 8-byte safetensors header length");

  if (resident && map_resident()) {
    try {
      // The header is read and checked before any tensor data, so a corrupt file fails fast.
      read_into(fd, 0, 8);
      const uint64_t n = header_length();
      read_into(fd, 8, n);
      m_header_len = n;
      parse_header(std::string(reinterpret_cast<const char*>(m_map + 8), size_t(n)));
      constexpr uint64_t kChunk = 64ull << 20;  // progress and cancellation granularity
      for (uint64_t off = 8 + n; off < m_size; off += kChunk) {
        read_into(fd, off, std::min(kChunk, m_size - off));
        if (on_bytes) on_bytes(std::min(off + kChunk, m_size));
      }
    } catch (...) {
      release();
      throw;
    }
    return;
  }

  void* p = ::mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) throw Error(path + ": cannot mmap: " + std::strerror(errno));
  m_map = static_cast<const std::byte*>(p);
  try {
    m_header_len = header_length();
    parse_header(std::string(reinterpret_cast<const char*>(m_map + 8), size_t(m_header_len)));
  } catch (...) {
    release();
    throw;
  }
  if (on_bytes) on_bytes(m_size);
}

SafetensorsFile::~SafetensorsFile() { release(); }

void SafetensorsFile::release() {
  if (m_alloc) ::munmap(m_alloc, m_alloc_size);
  else if (m_map) ::munmap(const_cast<std::byte*>(m_map), m_size);
  m_alloc = nullptr;
  m_map = nullptr;
}

uint64_t SafetensorsFile::header_length() const {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint64_t(std::to_integer<uint8_t>(m_map[i]));
  if (n > m_size - 8)
    throw Error(m_path + ": header length " + std::to_string(n) + " goes beyond the end of the file (" +
                std::to_string(m_size) + " bytes)");
  if (n > kMaxHeader) throw Error(m_path + ": header length " + std::to_string(n) + " is implausibly large");
  return n;
}

bool SafetensorsFile::map_resident() {
  // 2 MiB-aligned anonymous memory, advised to use transparent huge pages (a no-op where THP is off).
  // Files under 32 MiB get ordinary pages: they gain little, and a partly used last huge page would be
  // a large share of their memory.
  constexpr uint64_t kHuge = 2ull << 20;
  if (m_size < (32ull << 20)) {
    void* a = ::mmap(nullptr, m_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED) return false;
    m_alloc = a;
    m_alloc_size = m_size;
    m_map = static_cast<const std::byte*>(a);
    return true;
  }
  const uint64_t want = (m_size + kHuge - 1) / kHuge * kHuge + kHuge;
  void* a = ::mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED) return false;  // not enough address space or memory: fall back to mapping the file
  m_alloc = a;
  m_alloc_size = want;
  auto* base = reinterpret_cast<std::byte*>((reinterpret_cast<uintptr_t>(a) + kHuge - 1) / kHuge * kHuge);
#ifdef MADV_HUGEPAGE
  ::madvise(base, want - kHuge, MADV_HUGEPAGE);
#endif
  m_map = base;
  return true;
}

void SafetensorsFile::read_into(int fd, uint64_t offset, uint64_t bytes) {
  auto* dst = const_cast<std::byte*>(m_map) + offset;
  uint64_t done = 0;
  while (done < bytes) {
    const ssize_t r = ::pread(fd, dst + done, size_t(std::min<uint64_t>(bytes - done, 1ull << 30)), off_t(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw Error(m_path + ": cannot read at byte " + std::to_string(offset + done) + ": " + std::strerror(errno));
    if (r == 0)
      throw Error(m_path + ": file ended at byte " + std::to_string(offset + done) + " while reading its " +
                  std::to_string(m_size) + " bytes (was it changed while loading?)");
    done += uint64_t(r);
  }
}

void SafetensorsFile::parse_header(const std::string& text) {
  using nlohmann::json;
  json h;
  try {
    h = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(m_path + ": invalid JSON header: " + e.what());
  }
  if (!h.is_object()) throw Error(m_path + ": invalid JSON header: not a JSON object");

  const uint64_t data_size = m_size - 8 - m_header_len;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw Error(m_path + ": __metadata__ is not a JSON object");
      for (auto m = v.begin(); m != v.end(); ++m)
        m_metadata[m.key()] = m.value().is_string() ? m.value().get<std::string>() : m.value().dump();
      continue;
    }
    const std::string where = m_path + ": tensor '" + name + "'";
    if (!v.is_object()) throw Error(where + ": header entry is not a JSON object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) throw Error(where + ": missing or non-string dtype");
    SafetensorsEntry e;
    e.name = name;
    const std::string dt = v["dtype"].get<std::string>();
    if (!dtype_from_name(dt, e.dtype)) {
      // Valid safetensors dtypes we cannot compute with (FP8 E5M2 and the E8M0 scales of other formats, packed
      // 4-bit, wide unsigned) get a message that says what to do instead of "unknown".
      if (dt.rfind("F8_", 0) == 0 || dt == "F4" || dt == "F6_E2M3" || dt == "F6_E3M2" || dt == "U16" || dt == "U32" ||
          dt == "U64" || dt == "I4" || dt == "U4")
        throw Error(where + ": dtype '" + dt + "' is not supported (weights must be F32, F16, BF16 or block-scaled " +
                    "F8_E4M3; convert other quantised checkpoints to bf16 first)");
      throw Error(where + ": unknown dtype '" + dt + "'");
    }
    if (!v.contains("shape") || !v["shape"].is_array()) throw Error(where + ": missing or invalid shape");
    for (const auto& d : v["shape"]) {
      uint64_t u;
      if (!as_u64(d, u) || u > uint64_t(std::numeric_limits<int64_t>::max()))
        throw Error(where + ": shape " + v["shape"].dump() + " has a dimension that is not a non-negative integer");
      e.shape.push_back(int64_t(u));
    }
    const json* off = v.contains("data_offsets") ? &v["data_offsets"] : nullptr;
    if (!off || !off->is_array() || off->size() != 2 || !as_u64((*off)[0], e.begin) || !as_u64((*off)[1], e.end))
      throw Error(where + ": data_offsets must be two non-negative integers");
    if (e.end < e.begin)
      throw Error(where + ": data_offsets [" + std::to_string(e.begin) + "," + std::to_string(e.end) +
                  "] end before begin");
    if (e.end > data_size)
      throw Error(where + ": data_offsets [" + std::to_string(e.begin) + "," + std::to_string(e.end) +
                  "] out of range: the data section has " + std::to_string(data_size) + " bytes");
    // Byte size with overflow check (a corrupt shape could wrap around).
    const unsigned __int128 cap = (unsigned __int128)(1) << 64;
    unsigned __int128 bytes = dtype_size(e.dtype);
    for (int64_t d : e.shape) {
      bytes *= uint64_t(d);
      if (bytes >= cap) break;  // keeps the product from wrapping; already far beyond any file
    }
    if (bytes != (unsigned __int128)(e.end - e.begin)) {
      const std::string b = bytes >= cap ? "more than 2^64" : std::to_string(uint64_t(bytes));
      throw Error(where + ": shape " + shape_string(e.shape) + " x " + dt + " = " + b +
                  " bytes, but data_offsets span " + std::to_string(e.end - e.begin));
    }
    m_entries.push_back(std::move(e));
  }

  // Overlap check on byte order; empty tensors occupy nothing and cannot overlap.
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& e : m_entries)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const auto* a = by_offset[i - 1];
    const auto* b = by_offset[i];
    if (b->begin < a->end)
      throw Error(m_path + ": tensor '" + b->name + "' data [" + std::to_string(b->begin) + "," +
                  std::to_string(b->end) + ") overlaps tensor '" + a->name + "' [" + std::to_string(a->begin) +
                  "," + std::to_string(a->end) + ")");
  }
  std::sort(m_entries.begin(), m_entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  auto it = std::lower_bound(m_entries.begin(), m_entries.end(), name,
                             [](const SafetensorsEntry& e, const std::string& n) { return e.name < n; });
  return (it != m_entries.end() && it->name == name) ? &*it : nullptr;
}

TensorRef SafetensorsFile::tensor(const std::string& name) const {
  const SafetensorsEntry* e = find(name);
  if (!e) throw Error(m_path + ": no tensor '" + name + "'");
  return tensor(*e);
}

TensorRef SafetensorsFile::tensor(const SafetensorsEntry& e) const {
  TensorRef r;
  r.name = e.name;
  r.dtype = e.dtype;
  r.shape = e.shape;
  r.data = m_map + 8 + m_header_len + e.begin;
  r.nbytes = size_t(e.end - e.begin);
  return r;
}

}  // namespace moescope
