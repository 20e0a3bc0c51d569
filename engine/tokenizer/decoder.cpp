// Decoder implementations (see decoder.h), following the Rust library's decode_chain of each type.
#include "engine/tokenizer/decoder.h"

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/regex.h"
#include "engine/tokenizer/utf8.h"

namespace moescope::tok {

namespace {

// All tokens become one string of bytes; a token with a character outside the byte map (an added
// token such as "<|im_end|>" written with other characters) contributes its UTF-8 bytes unchanged.
class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens, const DecodeMode& mode) const override {
    std::string bytes;
    for (const auto& t : tokens) {
      const size_t mark = bytes.size();
      bool ok = true;
      for (size_t i = 0; i < t.size();) {
        const int b = char_to_byte(next_cp(t, i));
        if (b < 0) {
          ok = false;
          break;
        }
        bytes += static_cast<char>(b);
      }
      if (!ok) {
        bytes.resize(mark);
        bytes += t;
      }
    }
    tokens.assign(1, mode.display ? bytes : sanitize_utf8(bytes));
  }
};

class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens, const DecodeMode& mode) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (mode.display || is_valid_utf8(pending)) {
        out.push_back(pending);
      } else {
        for (size_t k = 0; k < pending.size(); ++k) out.emplace_back("\xEF\xBF\xBD");  // one U+FFFD per byte
      }
      pending.clear();
    };
    for (auto& t : tokens) {
      int byte = -1;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
        auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
        const int hi = hex(t[3]), lo = hex(t[4]);
        if (hi >= 0 && lo >= 0) byte = hi * 16 + lo;
      }
      if (byte >= 0) {
        pending += static_cast<char>(byte);
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens, const DecodeMode&) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

// Removes up to `start` leading and `stop` trailing copies of one character from every token.
class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop) : m_content(std::move(content)), m_start(start), m_stop(stop) {}
  void decode_chain(std::vector<std::string>& tokens, const DecodeMode& mode) const override {
    if (m_content.empty()) return;
    const size_t n = m_content.size();
    for (auto& t : tokens) {
      size_t b = 0, e = t.size();
      for (size_t k = 0; k < (mode.display ? 0 : m_start) && e - b >= n && t.compare(b, n, m_content) == 0; ++k) b += n;
      for (size_t k = 0; k < m_stop && e - b >= n && t.compare(e - n, n, m_content) == 0; ++k) e -= n;
      t = t.substr(b, e - b);
    }
  }

 private:
  std::string m_content;
  size_t m_start, m_stop;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(const json& j, const std::string& where) {
    const json& pat = field(j, "pattern", where);
    if (pat.contains("String")) m_literal = pat["String"].get<std::string>();
    else if (pat.contains("Regex")) m_regex = std::make_unique<Regex>(pat["Regex"].get<std::string>(), where + ".pattern");
    else throw Error(where + ".pattern: expected {\"String\": ..} or {\"Regex\": ..}");
    m_content = str_field(j, "content", where);
  }
  void decode_chain(std::vector<std::string>& tokens, const DecodeMode&) const override {
    for (auto& t : tokens) {
      std::vector<Span> spans;
      if (m_regex) {
        if (is_valid_utf8(t)) spans = m_regex->find_all(t);
      } else if (!m_literal.empty()) {
        for (size_t p = t.find(m_literal); p != std::string::npos; p = t.find(m_literal, p + m_literal.size()))
          spans.emplace_back(p, p + m_literal.size());
      }
      if (spans.empty()) continue;
      std::string out;
      size_t prev = 0;
      for (const auto& [b, e] : spans) {
        out.append(t, prev, b - prev);
        out += m_content;
        prev = e;
      }
      out.append(t, prev, std::string::npos);
      t = std::move(out);
    }
  }

 private:
  std::string m_literal, m_content;
  std::unique_ptr<Regex> m_regex;
};

// Replacement character -> space; in the first token every replacement character is dropped
// (Rust's Metaspace decoder does exactly this when prepend_scheme is not "never").
class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string rep, bool strip_first) : m_rep(std::move(rep)), m_strip_first(strip_first) {}
  void decode_chain(std::vector<std::string>& tokens, const DecodeMode& mode) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      const bool drop = i == 0 && m_strip_first && !mode.display;
      std::string out;
      const std::string& t = tokens[i];
      for (size_t p = 0; p < t.size();) {
        if (!m_rep.empty() && t.compare(p, m_rep.size(), m_rep) == 0) {
          if (!drop) out += ' ';
          p += m_rep.size();
        } else {
          out += t[p++];
        }
      }
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string m_rep;
  bool m_strip_first;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts) : m_parts(std::move(parts)) {}
  void decode_chain(std::vector<std::string>& tokens, const DecodeMode& mode) const override {
    for (const auto& p : m_parts) p->decode_chain(tokens, mode);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> m_parts;
};

size_t count_field(const json& j, const char* key, const std::string& where) {
  const json& v = field(j, key, where);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    throw Error(where + "." + key + ": expected a non-negative integer");
  return v.get<size_t>();
}

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, where);
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") return std::make_unique<StripDecoder>(str_field(j, "content", where), count_field(j, "start", where), count_field(j, "stop", where));
  if (type == "Replace") return std::make_unique<ReplaceDecoder>(j, where);
  if (type == "Metaspace") {
    std::string rep = j.contains("replacement") && j["replacement"].is_string() ? j["replacement"].get<std::string>() : "\xE2\x96\x81";
    bool strip = bool_or(j, "add_prefix_space", true);
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) strip = j["prepend_scheme"].get<std::string>() != "never";
    return std::make_unique<MetaspaceDecoder>(rep, strip);
  }
  if (type == "Sequence") {
    const json& list = field(j, "decoders", where);
    if (!list.is_array()) throw Error(where + ".decoders: expected an array");
    std::vector<std::unique_ptr<Decoder>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_decoder(list[i], where + ".decoders[" + std::to_string(i) + "]");
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  throw Error(where + ": decoder type '" + type + "' is not supported (supported: ByteLevel, ByteFallback, "
              "Metaspace, Replace, Strip, Fuse, Sequence)");
}

}  // namespace moescope::tok
