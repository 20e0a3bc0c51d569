// Added-token search (see added_vocabulary.h).
#include "engine/tokenizer/added_vocabulary.h"

#include <algorithm>

#include "engine/tokenizer/regex.h"
#include "engine/tokenizer/utf8.h"

namespace moescope::tok {

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns)
    : m_tokens(std::move(tokens)), m_patterns(std::move(patterns)), m_by_first_byte(256) {
  for (uint32_t i = 0; i < m_patterns.size(); ++i)
    if (!m_patterns[i].empty()) m_by_first_byte[static_cast<unsigned char>(m_patterns[i][0])].push_back(i);
  for (auto& list : m_by_first_byte)
    std::stable_sort(list.begin(), list.end(), [&](uint32_t a, uint32_t b) { return m_patterns[a].size() > m_patterns[b].size(); });
}

namespace {

// Last / first code point of a string (valid UTF-8).
char32_t last_cp(std::string_view s) {
  size_t b = s.size() - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  return next_cp(s, b);
}

}  // namespace

std::vector<Segment> AddedTokenMatcher::split(std::string_view text) const {
  std::vector<Segment> out;
  size_t emitted = 0;  // end of the last emitted segment
  size_t pos = 0;
  while (pos < text.size()) {
    // Leftmost position where any pattern matches; longest pattern there.
    int found = -1;
    for (; pos < text.size(); ++pos) {
      for (uint32_t i : m_by_first_byte[static_cast<unsigned char>(text[pos])]) {
        const std::string& p = m_patterns[i];
        if (text.compare(pos, p.size(), p) == 0) {
          found = static_cast<int>(i);
          break;
        }
      }
      if (found >= 0) break;
    }
    if (found < 0) break;
    const AddedToken& tok = m_tokens[static_cast<size_t>(found)];
    size_t start = pos, stop = pos + m_patterns[static_cast<size_t>(found)].size();
    pos = stop;  // the search goes on after the raw match, as non-overlapping find_iter does
    if (tok.single_word) {
      const bool start_ok = start == 0 || !is_regex_word_char(last_cp(text.substr(0, start)));
      size_t j = stop;
      const bool stop_ok = stop == text.size() || !is_regex_word_char(next_cp(text, j));
      if (!start_ok || !stop_ok) continue;
    }
    if (tok.lstrip) {
      while (start > emitted) {
        size_t b = start - 1;
        while (b > emitted && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80) --b;
        size_t j = b;
        if (!is_white_space(next_cp(text, j))) break;
        start = b;
      }
    }
    if (tok.rstrip) {
      while (stop < text.size()) {
        size_t j = stop;
        if (!is_white_space(next_cp(text, j))) break;
        stop = j;
      }
      pos = std::max(pos, stop);
    }
    if (start > emitted) out.push_back({std::string(text.substr(emitted, start - emitted)), -1, emitted});
    out.push_back({std::string(text.substr(start, stop - start)), tok.id, start});
    emitted = stop;
  }
  if (emitted < text.size()) out.push_back({std::string(text.substr(emitted)), -1, emitted});
  return out;
}

}  // namespace moescope::tok
