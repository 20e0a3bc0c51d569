// PCRE2 wrapper for the pre-tokenizer / normalizer patterns of tokenizer.json. The patterns were
// written for Oniguruma (the Rust library's engine); PCRE2 with UTF + UCP agrees on \p{..}, (?i:..),
// lookahead and \s = White_Space except for a few escapes translated here (see regex.cpp).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moescope::tok {

using Span = std::pair<size_t, size_t>;  // [begin, end) byte offsets

class Regex {
 public:
  // `where` names the file and field for error messages. Throws moescope::Error when it does not compile.
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // All non-overlapping matches, left to right, with Oniguruma's find_iter semantics (an empty match
  // right after the previous match is dropped and the search steps one code point on). `text` must
  // be valid UTF-8.
  std::vector<Span> find_all(std::string_view text) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// A word character of the Rust `regex` crate's \w (Alphabetic, Mark, Decimal_Number,
// Connector_Punctuation, Join_Control): the test single_word added tokens use at their edges.
bool is_regex_word_char(char32_t c);

// The Oniguruma -> PCRE2 translation, exposed for tests.
std::string translate_oniguruma(const std::string& pattern);

}  // namespace moescope::tok
