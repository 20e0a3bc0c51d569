// Normalizer implementations (see normalizer.h); Unicode forms and case mapping come from utf8proc.
#include "engine/tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <vector>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/regex.h"
#include "engine/tokenizer/utf8.h"

namespace moescope::tok {

std::string unicode_normalize(const std::string& s, const std::string& form) {
  if (s.empty()) return s;
  int opts = UTF8PROC_STABLE;
  if (form == "NFC") opts |= UTF8PROC_COMPOSE;
  else if (form == "NFD") opts |= UTF8PROC_DECOMPOSE;
  else if (form == "NFKC") opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  else if (form == "NFKD") opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
  else throw Error("unknown normalisation form " + form);
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                          static_cast<utf8proc_ssize_t>(s.size()), &out,
                                          static_cast<utf8proc_option_t>(opts));
  if (n < 0) {
    std::free(out);
    return s;  // only on invalid UTF-8, which callers never pass
  }
  std::string r(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}

namespace {

class UnicodeForm : public Normalizer {
 public:
  explicit UnicodeForm(std::string form) : m_form(std::move(form)) {}
  void normalize(std::string& s) const override { s = unicode_normalize(s, m_form); }

 private:
  std::string m_form;
};

class Lowercase : public Normalizer {
 public:
  void normalize(std::string& s) const override {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
      const char32_t c = next_cp(s, i);
      // Rust's char::to_lowercase applies full case mapping; U+0130 is the one code point whose
      // unconditional lowercase (SpecialCasing.txt) is two code points, "i" + U+0307.
      if (c == 0x130) out += "i\xCC\x87";
      else append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
    }
    s = std::move(out);
  }
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string p) : m_prefix(std::move(p)) {}
  void normalize(std::string& s) const override {
    if (!s.empty()) s.insert(0, m_prefix);
  }

 private:
  std::string m_prefix;
};

// Replace every occurrence of a literal string or every match of a regex.
class Replace : public Normalizer {
 public:
  Replace(const json& j, const std::string& where) {
    const json& pat = field(j, "pattern", where);
    if (pat.contains("String")) m_literal = pat["String"].get<std::string>();
    else if (pat.contains("Regex")) m_regex = std::make_unique<Regex>(pat["Regex"].get<std::string>(), where + ".pattern");
    else throw Error(where + ".pattern: expected {\"String\": ..} or {\"Regex\": ..}");
    m_content = str_field(j, "content", where);
  }
  void normalize(std::string& s) const override {
    std::vector<Span> spans;
    if (m_regex) {
      spans = m_regex->find_all(s);
    } else if (!m_literal.empty()) {
      for (size_t p = s.find(m_literal); p != std::string::npos; p = s.find(m_literal, p + m_literal.size()))
        spans.emplace_back(p, p + m_literal.size());
    }
    if (spans.empty()) return;
    std::string out;
    out.reserve(s.size());
    size_t prev = 0;
    for (const auto& [b, e] : spans) {
      out.append(s, prev, b - prev);
      out += m_content;
      prev = e;
    }
    out.append(s, prev, std::string::npos);
    s = std::move(out);
  }

 private:
  std::string m_literal, m_content;
  std::unique_ptr<Regex> m_regex;
};

class Strip : public Normalizer {
 public:
  Strip(bool left, bool right) : m_left(left), m_right(right) {}
  void normalize(std::string& s) const override {
    size_t b = 0, e = s.size();
    if (m_left) {
      while (b < e) {
        size_t i = b;
        if (!is_white_space(next_cp(s, i))) break;
        b = i;
      }
    }
    if (m_right) {
      while (e > b) {
        size_t start = e - 1;
        while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
        size_t i = start;
        if (!is_white_space(next_cp(s, i))) break;
        e = start;
      }
    }
    s = s.substr(b, e - b);
  }

 private:
  bool m_left, m_right;
};

class ByteLevelNormalizer : public Normalizer {
 public:
  void normalize(std::string& s) const override { s = bytes_to_chars(s); }
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts) : m_parts(std::move(parts)) {}
  void normalize(std::string& s) const override {
    for (const auto& p : m_parts) p->normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> m_parts;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, where);
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") return std::make_unique<UnicodeForm>(type);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "Prepend") return std::make_unique<Prepend>(str_field(j, "prepend", where));
  if (type == "Replace") return std::make_unique<Replace>(j, where);
  if (type == "Strip") return std::make_unique<Strip>(bool_or(j, "strip_left", true), bool_or(j, "strip_right", true));
  if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
  if (type == "Sequence") {
    const json& list = field(j, "normalizers", where);
    if (!list.is_array()) throw Error(where + ".normalizers: expected an array");
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_normalizer(list[i], where + ".normalizers[" + std::to_string(i) + "]");
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  throw Error(where + ": normalizer type '" + type + "' is not supported (supported: NFC, NFD, NFKC, NFKD, "
              "Lowercase, Prepend, Replace, Strip, ByteLevel, Sequence)");
}

}  // namespace moescope::tok
