// UTF-8 helpers shared by the tokenizer stages: repairing invalid input, walking code points, and
// the few Unicode properties the `tokenizers` semantics need (White_Space, alphanumeric,
// punctuation, numeric), all derived from utf8proc's tables rather than hand-made ones.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace moescope::tok {

// Replaces every ill-formed sequence in `s` by U+FFFD, one per "maximal subpart" (Unicode ch. 3,
// U+FFFD substitution best practice; what Python's bytes.decode('utf-8', 'replace') and Rust's
// String::from_utf8_lossy do). Returns `s` unchanged (copied) when it is already valid.
std::string sanitize_utf8(std::string_view s);
bool is_valid_utf8(std::string_view s);

// Length in bytes of the code point starting at s[i] (s must be valid UTF-8).
inline size_t cp_len(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}
// Decodes the code point at s[i] (valid UTF-8) and advances i past it.
char32_t next_cp(std::string_view s, size_t& i);
void append_utf8(std::string& out, char32_t cp);

bool is_white_space(char32_t c);   // Unicode White_Space (Rust char::is_whitespace)
bool is_alphanumeric(char32_t c);  // letters and numbers (Rust char::is_alphanumeric)
bool is_numeric(char32_t c);       // N* categories (Rust char::is_numeric)
bool is_punctuation(char32_t c);   // ASCII punctuation or a P* category (tokenizers' is_punc)

}  // namespace moescope::tok

namespace moescope::tok {
// Valid UTF-8 is copied; each byte of an ill-formed sequence is written as "<0xXX>" (for showing a
// token that holds part of a character).
std::string escape_invalid_utf8(std::string_view s);
}  // namespace moescope::tok
