// Open-addressing hash tables for the BPE model's two hot lookups: token string -> id (150k+
// entries, probed for every character) and merge pair -> (rank, new id) (probed for every adjacent
// pair). Flat arrays with linear probing are several times faster to build and to query than
// node-based std::unordered_map, which dominated tokenizer.json load time.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moescope::tok {

inline uint64_t hash_bytes(std::string_view s) {
  // FNV-1a, then a final mix so that the low bits used for the slot are well spread.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

// Token string -> id. Keys are owned here; a repeated key keeps the last id (like a map assignment).
class StringIndex {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    m_slots.assign(cap, -1);
    m_keys.reserve(n);
    m_ids.reserve(n);
  }
  void insert_or_assign(std::string key, int32_t id) {
    if ((m_keys.size() + 1) * 2 > m_slots.size()) grow();
    const uint64_t h = hash_bytes(key);
    size_t i = h & (m_slots.size() - 1);
    for (; m_slots[i] >= 0; i = (i + 1) & (m_slots.size() - 1)) {
      if (m_keys[static_cast<size_t>(m_slots[i])] == key) {
        m_ids[static_cast<size_t>(m_slots[i])] = id;
        return;
      }
    }
    m_slots[i] = static_cast<int32_t>(m_keys.size());
    m_keys.push_back(std::move(key));
    m_ids.push_back(id);
  }
  int32_t find(std::string_view key) const {
    if (m_slots.empty()) return -1;
    for (size_t i = hash_bytes(key) & (m_slots.size() - 1); m_slots[i] >= 0; i = (i + 1) & (m_slots.size() - 1))
      if (m_keys[static_cast<size_t>(m_slots[i])] == key) return m_ids[static_cast<size_t>(m_slots[i])];
    return -1;
  }
  size_t size() const { return m_keys.size(); }
  const std::vector<std::string>& keys() const { return m_keys; }
  const std::vector<int32_t>& ids() const { return m_ids; }

 private:
  void grow() {
    std::vector<int32_t> old(std::max<size_t>(16, m_slots.size() * 2), -1);
    m_slots.swap(old);
    for (size_t k = 0; k < m_keys.size(); ++k) {
      size_t i = hash_bytes(m_keys[k]) & (m_slots.size() - 1);
      while (m_slots[i] >= 0) i = (i + 1) & (m_slots.size() - 1);
      m_slots[i] = static_cast<int32_t>(k);
    }
  }
  std::vector<int32_t> m_slots;  // index into m_keys, -1 = empty
  std::vector<std::string> m_keys;
  std::vector<int32_t> m_ids;
};

// (left id, right id) -> (rank, merged id). A repeated pair keeps the last value.
class PairIndex {
 public:
  struct Value {
    uint32_t rank;
    int32_t new_id;
  };
  static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    m_keys.assign(cap, kEmpty);
    m_values.assign(cap, Value{0, -1});
    m_size = 0;
  }
  void insert_or_assign(int32_t a, int32_t b, Value v) {
    if ((m_size + 1) * 2 > m_keys.size()) grow();
    const uint64_t k = key(a, b);
    size_t i = slot(k);
    while (m_keys[i] != kEmpty && m_keys[i] != k) i = (i + 1) & (m_keys.size() - 1);
    if (m_keys[i] == kEmpty) ++m_size;
    m_keys[i] = k;
    m_values[i] = v;
  }
  const Value* find(int32_t a, int32_t b) const {
    if (m_keys.empty()) return nullptr;
    const uint64_t k = key(a, b);
    for (size_t i = slot(k); m_keys[i] != kEmpty; i = (i + 1) & (m_keys.size() - 1))
      if (m_keys[i] == k) return &m_values[i];
    return nullptr;
  }
  size_t size() const { return m_size; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;  // ids are non-negative int32, so no real key is all ones
  size_t slot(uint64_t k) const { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> 20) & (m_keys.size() - 1); }
  void grow() {
    std::vector<uint64_t> keys(std::max<size_t>(16, m_keys.size() * 2), kEmpty);
    std::vector<Value> values(keys.size(), Value{0, -1});
    keys.swap(m_keys);
    values.swap(m_values);
    for (size_t j = 0; j < keys.size(); ++j) {
      if (keys[j] == kEmpty) continue;
      size_t i = slot(keys[j]);
      while (m_keys[i] != kEmpty) i = (i + 1) & (m_keys.size() - 1);
      m_keys[i] = keys[j];
      m_values[i] = values[j];
    }
  }
  std::vector<uint64_t> m_keys;
  std::vector<Value> m_values;
  size_t m_size = 0;
};

}  // namespace moescope::tok
