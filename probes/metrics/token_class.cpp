// Token class rule (see token_class.h). Unicode categories come from utf8proc, so "é" is a letter,
// "—" is punctuation and U+3000 is whitespace, not just their ASCII cousins.
#include "probes/metrics/token_class.h"

#include <string>
#include <vector>

#include <utf8proc.h>

namespace moescope::metrics {

const char* token_class_name(TokenClass c) {
  switch (c) {
    case TokenClass::Word: return "word";
    case TokenClass::Number: return "number";
    case TokenClass::Punctuation: return "punctuation";
    case TokenClass::Whitespace: return "whitespace";
    case TokenClass::CodeSymbol: return "code-symbol";
    case TokenClass::Special: return "special";
    case TokenClass::Other: return "other";
  }
  return "other";
}

namespace {

enum class Kind { Letter, Digit, Space, Prose, Code };

Kind kind_of(utf8proc_int32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f') return Kind::Space;
  if (cp == '_') return Kind::Code;  // identifiers: handled as a word joiner below
  if (cp < 0x80) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return Kind::Letter;
    if (cp >= '0' && cp <= '9') return Kind::Digit;
    if (cp == ' ') return Kind::Space;
    // Prose punctuation; every other ASCII mark ({}[]<>=+*/\|&^~#@$%`) is a code symbol.
    static const std::string prose = ".,;:!?'\"()-";
    return prose.find(char(cp)) != std::string::npos ? Kind::Prose : Kind::Code;
  }
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
      return Kind::Letter;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return Kind::Digit;
    case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
      return Kind::Space;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return Kind::Prose;
    default:
      return Kind::Code;  // symbols (Sm, Sc, Sk, So) and anything else
  }
}

bool looks_special(std::string_view s) {
  if (s.size() >= 4 && s.substr(0, 2) == "<|" && s.substr(s.size() - 2) == "|>") return true;
  for (std::string_view t : {"<s>", "</s>", "<unk>", "<pad>", "<bos>", "<eos>"})
    if (s == t) return true;
  return false;
}

}  // namespace

TokenClass classify_token(std::string_view text, bool is_special) {
  if (is_special || looks_special(text)) return TokenClass::Special;
  if (text.empty()) return TokenClass::Other;
  std::vector<Kind> kinds;
  std::vector<utf8proc_int32_t> cps;
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t left = utf8proc_ssize_t(text.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) return TokenClass::Other;  // a byte fragment of a multi-byte character
    kinds.push_back(kind_of(cp));
    cps.push_back(cp);
    p += n;
    left -= n;
  }
  // Trim surrounding whitespace ("Ġthe" decodes to " the").
  size_t b = 0, e = kinds.size();
  while (b < e && kinds[b] == Kind::Space) ++b;
  while (e > b && kinds[e - 1] == Kind::Space) --e;
  if (b == e) return TokenClass::Whitespace;

  bool letter = false, digit = false, prose = false, code = false;
  bool number_sep_only = true;  // non-digits are . , _ only
  for (size_t i = b; i < e; ++i) {
    switch (kinds[i]) {
      case Kind::Letter: letter = true; break;
      case Kind::Digit: digit = true; break;
      case Kind::Space: break;
      case Kind::Prose: prose = true; break;
      case Kind::Code: code = true; break;
    }
    if (kinds[i] != Kind::Digit && cps[i] != '.' && cps[i] != ',' && cps[i] != '_') number_sep_only = false;
  }
  if (digit && !letter && number_sep_only) return TokenClass::Number;
  // Words: letters (and digits) possibly joined by '_' or an apostrophe: "don't", "foo_bar", "x2".
  if (letter) {
    bool wordish = true;
    for (size_t i = b; i < e; ++i)
      if (!(kinds[i] == Kind::Letter || kinds[i] == Kind::Digit || cps[i] == '_' || cps[i] == '\'')) wordish = false;
    if (wordish) return TokenClass::Word;
  }
  if (!letter && !digit) {
    if (code) return TokenClass::CodeSymbol;
    if (prose) return TokenClass::Punctuation;
    return TokenClass::Other;
  }
  // Mixed letters/digits and marks: a code mark makes it code ("x=", "->next", "{i"), otherwise the
  // content decides ("hello," and "(see" are words, "3)" is a number).
  if (code) return TokenClass::CodeSymbol;
  if (letter) return TokenClass::Word;
  return TokenClass::Number;
}

}  // namespace moescope::metrics
