// PCRE2-backed Regex (see regex.h). JIT-compiled when available; each thread gets its own JIT stack
// so that long runs (a megabyte of spaces against `\s+(?!\S)`) do not hit the default 32 KiB limit.
#include "engine/tokenizer/regex.h"

#include <pcre2.h>

#include "engine/tokenizer/utf8.h"
#include "engine/util/error.h"

namespace moescope::tok {

std::string translate_oniguruma(const std::string& p) {
  // Oniguruma's \s also matches U+0085 (NEL, White_Space but category Cc), PCRE2's does not;
  // Oniguruma's \w is Letter|Mark|Decimal_Number|Connector_Punctuation, PCRE2 10.42's is L|N|_;
  // Oniguruma's \h is a hex digit, PCRE2's is horizontal space.
  std::string out;
  out.reserve(p.size() + 16);
  int depth = 0;  // inside a bracket class when > 0
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[++i];
      if (e == 's') out += depth ? "\\s\\x{85}" : "[\\s\\x{85}]";
      else if (e == 'S' && !depth) out += "[^\\s\\x{85}]";
      else if (e == 'w') out += depth ? "\\p{L}\\p{M}\\p{Nd}\\p{Pc}" : "[\\p{L}\\p{M}\\p{Nd}\\p{Pc}]";
      else if (e == 'W' && !depth) out += "[^\\p{L}\\p{M}\\p{Nd}\\p{Pc}]";
      else if (e == 'h') out += depth ? "0-9a-fA-F" : "[0-9a-fA-F]";
      else if (e == 'H' && !depth) out += "[^0-9a-fA-F]";
      else {
        out += c;
        out += e;
      }
      continue;
    }
    if (c == '[') {
      ++depth;
      out += c;
      // A ']' or '^]' right after the opening bracket is a literal, not the end of the class.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (c == ']' && depth) --depth;
    out += c;
  }
  return out;
}

struct Regex::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
};

namespace {

struct ThreadMatchState {
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* ctx = nullptr;
  ThreadMatchState() {
    stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
    ctx = pcre2_match_context_create(nullptr);
    if (stack && ctx) pcre2_jit_stack_assign(ctx, nullptr, stack);
  }
  ~ThreadMatchState() {
    if (ctx) pcre2_match_context_free(ctx);
    if (stack) pcre2_jit_stack_free(stack);
  }
};

ThreadMatchState& thread_state() {
  thread_local ThreadMatchState s;
  return s;
}

}  // namespace

Regex::Regex(const std::string& pattern, const std::string& where) : m_impl(std::make_unique<Impl>()) {
  const std::string translated = translate_oniguruma(pattern);
  int err = 0;
  PCRE2_SIZE off = 0;
  m_impl->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                               PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &off, nullptr);
  if (!m_impl->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw Error(where + ": regex /" + pattern + "/ does not compile at offset " + std::to_string(off) + ": " +
                reinterpret_cast<const char*>(msg));
  }
  m_impl->jit = pcre2_jit_compile(m_impl->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
  if (m_impl && m_impl->code) pcre2_code_free(m_impl->code);
}

std::vector<Span> Regex::find_all(std::string_view text) const {
  std::vector<Span> out;
  if (text.empty()) return out;
  ThreadMatchState& ts = thread_state();
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(m_impl->code, nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  bool have_last = false;
  size_t last_end = 0;
  while (pos <= text.size()) {
    const int rc = pcre2_match(m_impl->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md, ts.ctx);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(md);
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      throw Error(std::string("tokenizer regex match failed: ") + reinterpret_cast<const char*>(msg));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t b = ov[0], e = ov[1];
    if (e == b && have_last && b == last_end) {
      // Oniguruma's iterator drops an empty match right after the previous match and steps one
      // code point further.
      if (b >= text.size()) break;
      pos = b + cp_len(static_cast<unsigned char>(text[b]));
      continue;
    }
    out.emplace_back(b, e);
    have_last = true;
    last_end = e;
    pos = e;
  }
  pcre2_match_data_free(md);
  return out;
}

bool is_regex_word_char(char32_t c) {
  static const Regex word(R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}])", "word character class");
  std::string s;
  append_utf8(s, c);
  return !word.find_all(s).empty();
}

}  // namespace moescope::tok
