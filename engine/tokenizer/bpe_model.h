// The BPE model of tokenizer.json ("model": {"type": "BPE", ...}): vocab, ranked merges,
// byte_fallback, unk_token/fuse_unk, continuing_subword_prefix/end_of_word_suffix, ignore_merges.
// Merging follows the Rust library's Word::merge_all: repeatedly merge the lowest-ranked adjacent
// pair (leftmost on ties) using a priority queue over a linked list of symbols, O(n log n) per word.
#pragma once
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/tokenizer/flat_index.h"
#include "engine/tokenizer/json_fields.h"

namespace moescope::tok {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using Vocab = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // `model` holds the scalar fields; `vocab` (token, id) and `merges` (a, b) come from the SAX reader
  // (tokenizer_json.h). `where` is "<file>: model". Throws moescope::Error on a malformed vocab or
  // merge list.
  BpeModel(const json& model, std::vector<std::pair<std::string, int64_t>>&& vocab,
           std::vector<std::pair<std::string, std::string>>&& merges, const std::string& where);

  // Appends the ids of one pre-tokenized word.
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;

  int32_t token_to_id(std::string_view token) const;  // -1 when absent
  const std::string* id_to_token(int32_t id) const;    // nullptr when absent
  int32_t max_id() const { return static_cast<int32_t>(m_id_to_token.size()) - 1; }
  size_t merge_count() const { return m_merges.size(); }

 private:
  using Merge = PairIndex::Value;
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;

  StringIndex m_vocab;
  std::vector<std::string> m_id_to_token;
  PairIndex m_merges;
  std::string m_prefix, m_suffix;  // continuing_subword_prefix, end_of_word_suffix
  int32_t m_unk = -1;
  bool m_fuse_unk = false, m_byte_fallback = false, m_ignore_merges = false;
  int32_t m_byte_ids[256];  // "<0xXX>" tokens for byte_fallback, -1 when absent

  // Cache of whole-word results (the Rust library keeps 10k; words longer than kCacheWordMax skip it).
  static constexpr size_t kCacheCapacity = 100000;
  static constexpr size_t kCacheWordMax = 256;
  mutable std::shared_mutex m_cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> m_cache;
};

}  // namespace moescope::tok
