// Pre-tokenizer implementations (see pre_tokenizer.h). The splitting follows the Rust library's
// NormalizedString::split: a pattern yields matches covering the piece, a behaviour decides how
// matches and the text between them become pieces, and empty pieces are dropped.
#include "engine/tokenizer/pre_tokenizer.h"

#include <functional>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/regex.h"
#include "engine/tokenizer/utf8.h"

namespace moescope::tok {

namespace {

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const json& j, const std::string& where) {
  const std::string b = j.is_string() ? j.get<std::string>() : "";
  if (b == "Removed") return Behavior::Removed;
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  throw Error(where + ": unknown split behavior '" + b + "'");
}

using Matcher = std::function<std::vector<Span>(std::string_view)>;

struct Part {
  Span span;
  bool flag;  // is_match before the behaviour is applied, "remove" after
};

std::vector<Part> cover(std::string_view s, const std::vector<Span>& matches) {
  std::vector<Part> parts;
  if (s.empty()) return {{{0, 0}, false}};
  size_t prev = 0;
  for (const auto& m : matches) {
    if (prev != m.first) parts.push_back({{prev, m.first}, false});
    parts.push_back({m, true});
    prev = m.second;
  }
  if (prev != s.size()) parts.push_back({{prev, s.size()}, false});
  return parts;
}

std::vector<Part> apply_behavior(std::vector<Part> m, Behavior behavior) {
  std::vector<Part> acc;
  bool previous_match = false;
  switch (behavior) {
    case Behavior::Isolated:
      for (auto& p : m) p.flag = false;
      return m;
    case Behavior::Removed:
      return m;
    case Behavior::Contiguous:
      for (const auto& p : m) {
        if (p.flag == previous_match && !acc.empty()) acc.back().span.second = p.span.second;
        else acc.push_back({p.span, false});
        previous_match = p.flag;
      }
      return acc;
    case Behavior::MergedWithPrevious:
      for (const auto& p : m) {
        if (p.flag && !previous_match && !acc.empty()) acc.back().span.second = p.span.second;
        else acc.push_back({p.span, false});
        previous_match = p.flag;
      }
      return acc;
    case Behavior::MergedWithNext:
      for (auto it = m.rbegin(); it != m.rend(); ++it) {
        if (it->flag && !previous_match && !acc.empty()) acc.back().span.first = it->span.first;
        else acc.push_back({it->span, false});
        previous_match = it->flag;
      }
      return {acc.rbegin(), acc.rend()};
  }
  return acc;
}

void split_pieces(std::vector<PreToken>& pieces, const Matcher& matcher, Behavior behavior, bool invert) {
  std::vector<PreToken> out;
  out.reserve(pieces.size() * 2);
  for (const auto& piece : pieces) {
    auto parts = cover(piece.text, piece.text.empty() ? std::vector<Span>{} : matcher(piece.text));
    if (invert)
      for (auto& p : parts) p.flag = !p.flag;
    for (const auto& p : apply_behavior(std::move(parts), behavior)) {
      if (p.flag || p.span.second == p.span.first) continue;
      out.push_back({piece.text.substr(p.span.first, p.span.second - p.span.first), piece.at_start && p.span.first == 0});
    }
  }
  pieces = std::move(out);
}

// Every code point satisfying `pred` is a match of its own (Rust's `Fn(char) -> bool` pattern).
Matcher char_matcher(bool (*pred)(char32_t)) {
  return [pred](std::string_view s) {
    std::vector<Span> m;
    for (size_t i = 0; i < s.size();) {
      const size_t b = i;
      if (pred(next_cp(s, i))) m.emplace_back(b, i);
    }
    return m;
  };
}

Matcher regex_matcher(std::shared_ptr<Regex> re) {
  return [re](std::string_view s) { return re->find_all(s); };
}

Matcher literal_matcher(std::string lit) {
  return [lit](std::string_view s) {
    std::vector<Span> m;
    if (lit.empty()) return m;
    for (size_t p = s.find(lit); p != std::string_view::npos; p = s.find(lit, p + lit.size())) m.emplace_back(p, p + lit.size());
    return m;
  };
}

class SplitPre : public PreTokenizer {
 public:
  SplitPre(Matcher m, Behavior b, bool invert) : m_matcher(std::move(m)), m_behavior(b), m_invert(invert) {}
  void pre_tokenize(std::vector<PreToken>& pieces) const override { split_pieces(pieces, m_matcher, m_behavior, m_invert); }

 private:
  Matcher m_matcher;
  Behavior m_behavior;
  bool m_invert;
};

const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPre : public PreTokenizer {
 public:
  ByteLevelPre(bool add_prefix_space, bool use_regex, const std::string& where) : m_prefix(add_prefix_space) {
    if (use_regex) m_regex = std::make_shared<Regex>(kGpt2Pattern, where);
  }
  void pre_tokenize(std::vector<PreToken>& pieces) const override {
    if (m_prefix)
      for (auto& p : pieces)
        if (p.text.empty() || p.text[0] != ' ') p.text = " " + p.text;
    if (m_regex) split_pieces(pieces, regex_matcher(m_regex), Behavior::Isolated, false);
    for (auto& p : pieces) p.text = bytes_to_chars(p.text);
  }

 private:
  bool m_prefix;
  std::shared_ptr<Regex> m_regex;
};

class MetaspacePre : public PreTokenizer {
 public:
  enum class Scheme { Always, First, Never };
  MetaspacePre(std::string replacement, Scheme scheme, bool split)
      : m_rep(std::move(replacement)), m_scheme(scheme), m_split(split) {}
  void pre_tokenize(std::vector<PreToken>& pieces) const override {
    for (auto& p : pieces) {
      std::string t;
      t.reserve(p.text.size() + m_rep.size());
      for (char c : p.text) {
        if (c == ' ') t += m_rep;
        else t += c;
      }
      const bool starts = t.compare(0, m_rep.size(), m_rep) == 0;
      if (!starts && (m_scheme == Scheme::Always || (m_scheme == Scheme::First && p.at_start))) t.insert(0, m_rep);
      p.text = std::move(t);
    }
    if (m_split) split_pieces(pieces, literal_matcher(m_rep), Behavior::MergedWithNext, false);
  }

 private:
  std::string m_rep;
  Scheme m_scheme;
  bool m_split;
};

class SequencePre : public PreTokenizer {
 public:
  explicit SequencePre(std::vector<std::unique_ptr<PreTokenizer>> parts) : m_parts(std::move(parts)) {}
  void pre_tokenize(std::vector<PreToken>& pieces) const override {
    for (const auto& p : m_parts) p->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> m_parts;
};

bool is_space_char(char32_t c) { return is_white_space(c); }

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, where);
  if (type == "Split") {
    const json& pat = field(j, "pattern", where);
    Matcher m;
    if (pat.contains("Regex")) m = regex_matcher(std::make_shared<Regex>(pat["Regex"].get<std::string>(), where + ".pattern"));
    else if (pat.contains("String")) m = literal_matcher(pat["String"].get<std::string>());
    else throw Error(where + ".pattern: expected {\"String\": ..} or {\"Regex\": ..}");
    return std::make_unique<SplitPre>(std::move(m), parse_behavior(field(j, "behavior", where), where + ".behavior"),
                                      bool_or(j, "invert", false));
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelPre>(bool_or(j, "add_prefix_space", true), bool_or(j, "use_regex", true), where);
  if (type == "Metaspace") {
    std::string rep = j.contains("replacement") && j["replacement"].is_string() ? j["replacement"].get<std::string>() : "\xE2\x96\x81";
    auto scheme = MetaspacePre::Scheme::Always;
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
      const std::string s = j["prepend_scheme"].get<std::string>();
      if (s == "first") scheme = MetaspacePre::Scheme::First;
      else if (s == "never") scheme = MetaspacePre::Scheme::Never;
      else if (s != "always") throw Error(where + ".prepend_scheme: unknown value '" + s + "'");
    } else if (!bool_or(j, "add_prefix_space", true)) {
      scheme = MetaspacePre::Scheme::Never;
    }
    return std::make_unique<MetaspacePre>(rep, scheme, bool_or(j, "split", true));
  }
  if (type == "Whitespace") {
    // The Rust library uses the `regex` crate here: \w+|[^\w\s]+ with \w = Alphabetic, M, Nd, Pc, Join_Control.
    const char* w = R"(\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D})";
    const std::string pattern = std::string("[") + w + "]+|[^" + w + R"(\s]+)";
    return std::make_unique<SplitPre>(regex_matcher(std::make_shared<Regex>(pattern, where)), Behavior::Removed, true);
  }
  if (type == "WhitespaceSplit") return std::make_unique<SplitPre>(char_matcher(is_space_char), Behavior::Removed, false);
  if (type == "Punctuation") {
    const Behavior b = j.contains("behavior") ? parse_behavior(j["behavior"], where + ".behavior") : Behavior::Isolated;
    return std::make_unique<SplitPre>(char_matcher(is_punctuation), b, false);
  }
  if (type == "Digits") {
    const Behavior b = bool_or(j, "individual_digits", false) ? Behavior::Isolated : Behavior::Contiguous;
    return std::make_unique<SplitPre>(char_matcher(is_numeric), b, false);
  }
  if (type == "BertPreTokenizer") {
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    parts.push_back(std::make_unique<SplitPre>(char_matcher(is_space_char), Behavior::Removed, false));
    parts.push_back(std::make_unique<SplitPre>(char_matcher(is_punctuation), Behavior::Isolated, false));
    return std::make_unique<SequencePre>(std::move(parts));
  }
  if (type == "CharDelimiterSplit")
    return std::make_unique<SplitPre>(literal_matcher(str_field(j, "delimiter", where)), Behavior::Removed, false);
  if (type == "Sequence") {
    const json& list = field(j, "pretokenizers", where);
    if (!list.is_array()) throw Error(where + ".pretokenizers: expected an array");
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_pre_tokenizer(list[i], where + ".pretokenizers[" + std::to_string(i) + "]");
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequencePre>(std::move(parts));
  }
  throw Error(where + ": pre_tokenizer type '" + type + "' is not supported (supported: Split, ByteLevel, Metaspace, "
              "Whitespace, WhitespaceSplit, BertPreTokenizer, CharDelimiterSplit, Digits, Punctuation, Sequence)");
}

}  // namespace moescope::tok
