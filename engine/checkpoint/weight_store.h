// All tensors of a checkpoint directory, by name: one model.safetensors, or the shards listed in
// model.safetensors.index.json ("weight_map": {tensor: shard file}). Keeps every file mapped.
#pragma once
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/checkpoint/safetensors_file.h"
#include "engine/checkpoint/weight_residency.h"

namespace moescope {

class WeightStore {
 public:
  struct Progress {
    // Before each file is opened: index, number of files, path.
    std::function<void(size_t, size_t, const std::string&)> on_file;
    // Bytes of all files in place so far, and in all (resident: per 64 MiB read).
    std::function<void(uint64_t, uint64_t)> on_bytes;
  };
  // Opens `dir`: model.safetensors.index.json when present (every shard it names must exist and hold the
  // tensors mapped to it), else model.safetensors. `residency` (weight_residency.h; Auto is resolved here
  // against the total size of the files) says whether files are mapped or read into memory. Progress
  // callbacks may throw (Cancelled) to abort.
  static std::shared_ptr<WeightStore> open_dir(const std::string& dir, const Progress& progress = {},
                                               WeightResidency residency = WeightResidency::Mapped);
  // One .safetensors file on its own.
  static std::shared_ptr<WeightStore> open_file(const std::string& path, WeightResidency residency = WeightResidency::Mapped,
                                                const Progress& progress = {});

  bool contains(const std::string& name) const { return m_index.count(name) != 0; }
  const SafetensorsEntry* find(const std::string& name) const;  // nullptr when absent
  TensorRef get(const std::string& name) const;                 // throws Error naming the checkpoint
  // For a tensor the loader converted into memory of its own (GPT-OSS experts) and will not read again: its
  // whole pages go back to the system (mapped: dropped, a later read would fault them in from the file;
  // resident: freed). get() of it afterwards throws. Returns the bytes released.
  uint64_t release(const std::string& name);
  // The whole pages inside [p, p + n) of a tensor being converted, before release() of the whole tensor (so that a
  // conversion in parts never holds both copies). Thread-safe.
  static uint64_t release_pages(const std::byte* p, size_t n);
  const std::string& file_of(const std::string& name) const;   // path of the file holding `name`
  std::vector<std::string> names() const;                       // sorted

  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return m_files; }
  // What messages name: the index.json of a sharded checkpoint, else the single .safetensors file.
  const std::string& location() const { return m_location; }
  const std::string& index_path() const { return m_index_path; } // empty when not sharded
  uint64_t total_bytes() const;
  // Mapped or Resident: how the files ended up (Resident only when every file is; a file whose memory
  // could not be had falls back to its mapping).
  WeightResidency residency() const;
  std::vector<std::string> warnings() const { return m_warnings; }

 private:
  struct Slot { const SafetensorsFile* file; const SafetensorsEntry* entry; };
  std::string m_location, m_index_path;
  std::vector<std::unique_ptr<SafetensorsFile>> m_files;
  std::unordered_map<std::string, Slot> m_index;
  std::vector<std::string> m_warnings;
  std::set<std::string> m_released;
};

}  // namespace moescope
