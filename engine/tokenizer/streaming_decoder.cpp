// StreamingDecoder (see streaming_decoder.h).
#include "engine/tokenizer/streaming_decoder.h"

namespace moescope {

namespace {
bool ends_with_replacement(const std::string& s) {
  return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}
}  // namespace

StreamingDecoder::StreamingDecoder(std::shared_ptr<const Tokenizer> tokenizer, bool skip_special_tokens)
    : m_tok(std::move(tokenizer)), m_skip_special(skip_special_tokens) {}

void StreamingDecoder::reset() {
  m_ids.clear();
  m_prefix.clear();
  m_prefix_index = 0;
}

std::string StreamingDecoder::push(int32_t id) {
  m_ids.push_back(id);
  const std::string text = m_tok->decode(m_ids, m_skip_special);
  if (text.size() <= m_prefix.size() || ends_with_replacement(text)) return {};
  // The Rust DecodeStream fails when the new text does not extend the prefix's text; that cannot be
  // taken back here, so the tail beyond the prefix's length is emitted as it is.
  std::string fresh = text.substr(m_prefix.size());
  // Keep the ids of the token(s) that produced this text as the next prefix, so the next token is
  // decoded in context (spaces, byte-level merges) rather than as the first of a text.
  const size_t new_prefix_index = m_ids.size() - m_prefix_index;
  m_ids.erase(m_ids.begin(), m_ids.begin() + static_cast<std::ptrdiff_t>(m_prefix_index));
  m_prefix = m_tok->decode(m_ids, m_skip_special);
  m_prefix_index = new_prefix_index;
  return fresh;
}

std::string StreamingDecoder::finish() {
  std::string rest;
  if (!m_ids.empty()) {
    const std::string text = m_tok->decode(m_ids, m_skip_special);
    if (text.size() > m_prefix.size()) rest = text.substr(m_prefix.size());
  }
  reset();
  return rest;
}

}  // namespace moescope
