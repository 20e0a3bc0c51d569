// Added tokens of tokenizer.json ("added_tokens"): found in the text before the model runs,
// leftmost-longest like the Rust library's Aho-Corasick search, honouring single_word, lstrip and
// rstrip. Tokens with "normalized": false are matched on the raw text, the others on the
// normalized text of the segments between them.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moescope::tok {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

struct Segment {
  std::string text;
  int32_t id = -1;    // >= 0: an added token matched here; -1: text for the model
  size_t offset = 0;  // byte offset in the string that was split
};

class AddedTokenMatcher {
 public:
  // `patterns[i]` is the text searched for token `tokens[i]` (its content, or normalized content).
  AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns);
  bool empty() const { return m_tokens.empty(); }
  // Splits valid UTF-8 `text` into added-token matches and the text between them (empty text is
  // not emitted).
  std::vector<Segment> split(std::string_view text) const;

 private:
  std::vector<AddedToken> m_tokens;
  std::vector<std::string> m_patterns;
  std::vector<std::vector<uint32_t>> m_by_first_byte;  // candidate indices, longest pattern first
};

}  // namespace moescope::tok
