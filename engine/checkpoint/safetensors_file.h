// One read-only .safetensors file, memory-mapped (tensor data is only touched when a kernel reads it, the
// OS pages it in lazily) or resident (read once into huge-page-backed anonymous memory; see
// weight_residency.h). The header is parsed and validated when the file is opened, before any data is read.
//
// Layout: 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the data section;
// offsets are relative to the start of the data section (byte 8 + N).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/model/tensor.h"

namespace moescope {

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte range inside the data section
};

class SafetensorsFile {
 public:
  // Maps and validates `path`; throws Error naming the file (and the tensor) on any problem: file shorter
  // than 8 bytes, header length beyond the file, invalid JSON, unknown dtype, offsets out of range or
  // reversed, shape x dtype != byte span, overlapping tensors.
  // `resident`: read the file into anonymous huge-page memory instead of mapping it (falls back to the
  // mapping when that memory cannot be had; resident() tells). `on_bytes(n)`: n bytes of this file are in
  // place (called per 64 MiB chunk when resident, once when mapped); may throw (Cancelled) to abort.
  explicit SafetensorsFile(const std::string& path, bool resident = false,
                           const std::function<void(uint64_t)>& on_bytes = {});
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return m_path; }
  uint64_t file_size() const { return m_size; }
  uint64_t header_size() const { return m_header_len; }
  bool resident() const { return m_alloc != nullptr; }
  const std::vector<SafetensorsEntry>& entries() const { return m_entries; }  // sorted by name
  const std::map<std::string, std::string>& metadata() const { return m_metadata; }

  const SafetensorsEntry* find(const std::string& name) const;  // nullptr when absent
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  // A view of the tensor's bytes inside the mapping (valid while this object lives).
  TensorRef tensor(const std::string& name) const;
  TensorRef tensor(const SafetensorsEntry& e) const;

 private:
  void parse_header(const std::string& json_text);
  uint64_t header_length() const;  // from the first 8 bytes, checked against the file size
  bool map_resident();
  void read_into(int fd, uint64_t offset, uint64_t bytes);
  void release();

  std::string m_path;
  const std::byte* m_map = nullptr;  // the file's bytes: the mapping, or inside m_alloc when resident
  void* m_alloc = nullptr;           // the anonymous region (resident only)
  uint64_t m_alloc_size = 0;
  uint64_t m_size = 0;
  uint64_t m_header_len = 0;
  std::vector<SafetensorsEntry> m_entries;
  std::map<std::string, std::string> m_metadata;
};

// "[4,8]" for messages.
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace moescope
