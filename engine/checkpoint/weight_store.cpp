// Single-file and sharded (index.json) checkpoints behind one name -> tensor lookup.
#include "engine/checkpoint/weight_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <sys/mman.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/util/error.h"

namespace moescope {

namespace fs = std::filesystem;

namespace {

uint64_t file_size_or_zero(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : uint64_t(n);
}

}  // namespace

std::shared_ptr<WeightStore> WeightStore::open_file(const std::string& path, WeightResidency residency,
                                                    const Progress& progress) {
  auto store = std::make_shared<WeightStore>();
  store->m_location = path;
  const uint64_t total = file_size_or_zero(path);
  const bool resident = resolve_residency(residency, total) == WeightResidency::Resident;
  std::function<void(uint64_t)> on_bytes;
  if (progress.on_bytes) on_bytes = [&](uint64_t n) { progress.on_bytes(n, total); };
  store->m_files.push_back(std::make_unique<SafetensorsFile>(path, resident, on_bytes));
  for (const auto& e : store->m_files.back()->entries())
    store->m_index.emplace(e.name, Slot{store->m_files.back().get(), &e});
  return store;
}

std::shared_ptr<WeightStore> WeightStore::open_dir(const std::string& dir, const Progress& progress,
                                                   WeightResidency residency) {
  const auto& on_file = progress.on_file;
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single = fs::path(dir) / "model.safetensors";
  std::error_code ec;
  if (!fs::exists(index, ec)) {
    if (!fs::exists(single, ec))
      throw Error(dir + ": no model.safetensors or model.safetensors.index.json in this directory");
    if (on_file) on_file(0, 1, single.string());
    return open_file(single.string(), residency, progress);
  }

  auto store = std::make_shared<WeightStore>();
  store->m_location = index.string();
  store->m_index_path = index.string();
  const std::string ip = index.string();
  nlohmann::json j;
  {
    std::ifstream in(index);
    if (!in) throw Error(ip + ": cannot read");
    std::stringstream ss;
    ss << in.rdbuf();
    try {
      j = nlohmann::json::parse(ss.str());
    } catch (const nlohmann::json::exception& e) {
      throw Error(ip + ": invalid JSON: " + e.what());
    }
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw Error(ip + ": no \"weight_map\" object");

  // Shards in first-mention order of sorted shard names, so progress is stable.
  std::map<std::string, std::vector<std::string>> by_shard;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string()) throw Error(ip + ": weight_map entry for '" + it.key() + "' is not a file name");
    by_shard[it.value().get<std::string>()].push_back(it.key());
  }
  if (by_shard.empty()) throw Error(ip + ": weight_map is empty");
  // Residency is decided once for the whole checkpoint, from the size of all its shards.
  uint64_t total = 0;
  for (const auto& kv : by_shard) total += file_size_or_zero(fs::path(dir) / kv.first);
  const bool resident = resolve_residency(residency, total) == WeightResidency::Resident;
  uint64_t done_before = 0;
  size_t i = 0;
  for (const auto& [shard, names] : by_shard) {
    const fs::path sp = fs::path(dir) / shard;
    bool escapes = fs::path(shard).is_absolute();  // shards must live inside the checkpoint directory
    for (const auto& part : fs::path(shard)) escapes |= part == "..";
    if (escapes) throw Error(ip + ": shard '" + shard + "' points outside the checkpoint directory");
    if (!fs::is_regular_file(sp, ec))
      throw Error(ip + ": shard '" + shard + "' (holding '" + names.front() + "') does not exist in " + dir);
    if (on_file) on_file(i, by_shard.size(), sp.string());
    ++i;
    std::function<void(uint64_t)> on_bytes;
    if (progress.on_bytes) on_bytes = [&](uint64_t n) { progress.on_bytes(done_before + n, total); };
    store->m_files.push_back(std::make_unique<SafetensorsFile>(sp.string(), resident, on_bytes));
    const SafetensorsFile* f = store->m_files.back().get();
    done_before += f->file_size();
    for (const auto& n : names) {
      const SafetensorsEntry* e = f->find(n);
      if (!e) throw Error(ip + ": tensor '" + n + "' is mapped to shard '" + shard + "', but " + sp.string() +
                          " has no tensor of that name");
      store->m_index.emplace(n, Slot{f, e});
    }
    size_t unlisted = 0;
    for (const auto& e : f->entries())
      if (!store->m_index.count(e.name)) ++unlisted;
    if (unlisted)
      store->m_warnings.push_back(sp.string() + ": " + std::to_string(unlisted) +
                                  " tensors not listed in model.safetensors.index.json were ignored");
  }
  return store;
}

const SafetensorsEntry* WeightStore::find(const std::string& name) const {
  auto it = m_index.find(name);
  return it == m_index.end() ? nullptr : it->second.entry;
}

TensorRef WeightStore::get(const std::string& name) const {
  auto it = m_index.find(name);
  if (it == m_index.end()) throw Error(m_location + ": checkpoint has no tensor '" + name + "'");
  if (m_released.count(name))
    throw Error(m_location + ": tensor '" + name + "' was converted at load and its stored bytes released");
  return it->second.file->tensor(*it->second.entry);
}

uint64_t WeightStore::release(const std::string& name) {
  const TensorRef t = get(name);
  m_released.insert(name);
  return release_pages(t.data, t.nbytes);
}

uint64_t WeightStore::release_pages(const std::byte* p, size_t n) {
  static const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (end <= begin) return 0;  // no whole page inside (neighbours may still be in use)
  if (::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED) != 0) return 0;
  return end - begin;
}

const std::string& WeightStore::file_of(const std::string& name) const {
  auto it = m_index.find(name);
  if (it == m_index.end()) throw Error(m_location + ": checkpoint has no tensor '" + name + "'");
  return it->second.file->path();
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  out.reserve(m_index.size());
  for (const auto& kv : m_index) out.push_back(kv.first);
  std::sort(out.begin(), out.end());
  return out;
}

WeightResidency WeightStore::residency() const {
  for (const auto& f : m_files)
    if (!f->resident()) return WeightResidency::Mapped;
  return m_files.empty() ? WeightResidency::Mapped : WeightResidency::Resident;
}

uint64_t WeightStore::total_bytes() const {
  uint64_t n = 0;
  for (const auto& f : m_files) n += f->file_size();
  return n;
}

}  // namespace moescope
