// All tensors of a checkpoint directory, by name: one model.safetensors, or the shards listed in
// model.safetensors.index.json ("weight_map": {tensor: shard file}). Keeps every file mapped.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/checkpoint/safetensors_file.h"

namespace moescope {

class WeightStore {
 public:
  // Opens `dir`: model.safetensors.index.json when present (every shard it names must exist and hold the
  // tensors mapped to it), else model.safetensors. `on_file(i, n, path)` is called before each file is
  // mapped (progress reporting; may throw Cancelled).
  static std::shared_ptr<WeightStore> open_dir(
      const std::string& dir, const std::function<void(size_t, size_t, const std::string&)>& on_file = {});
  // One .safetensors file on its own.
  static std::shared_ptr<WeightStore> open_file(const std::string& path);

  bool contains(const std::string& name) const { return m_index.count(name) != 0; }
  const SafetensorsEntry* find(const std::string& name) const;  // nullptr when absent
  TensorRef get(const std::string& name) const;                 // throws Error naming the checkpoint
  const std::string& file_of(const std::string& name) const;   // path of the file holding `name`
  std::vector<std::string> names() const;                       // sorted

  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return m_files; }
  // What messages name: the index.json of a sharded checkpoint, else the single .safetensors file.
  const std::string& location() const { return m_location; }
  const std::string& index_path() const { return m_index_path; } // empty when not sharded
  uint64_t total_bytes() const;
  std::vector<std::string> warnings() const { return m_warnings; }

 private:
  struct Slot { const SafetensorsFile* file; const SafetensorsEntry* entry; };
  std::string m_location, m_index_path;
  std::vector<std::unique_ptr<SafetensorsFile>> m_files;
  std::unordered_map<std::string, Slot> m_index;
  std::vector<std::string> m_warnings;
};

}  // namespace moescope
