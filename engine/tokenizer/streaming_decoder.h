// StreamingDecoder: turns ids arriving one at a time (generation) into text, giving out only text
// that will not change: a token that ends in the middle of a UTF-8 character is held back until the
// character is complete, and a sentencepiece tokenizer's leading space is dropped for the first
// token only, as in the Rust library's DecodeStream (decode the ids since a moving prefix, emit what
// extends the prefix's text).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace moescope {

class StreamingDecoder {
 public:
  explicit StreamingDecoder(std::shared_ptr<const Tokenizer> tokenizer, bool skip_special_tokens = false);

  // The text that became final with this id ("" while a character is incomplete).
  std::string push(int32_t id);
  // Whatever is still held back (an incomplete character comes out as U+FFFD); the stream then
  // starts over as if new.
  std::string finish();
  void reset();

 private:
  std::shared_ptr<const Tokenizer> m_tok;
  bool m_skip_special;
  std::vector<int32_t> m_ids;  // ids since the prefix start
  std::string m_prefix;        // decoded text of m_ids[0, m_prefix_index)
  size_t m_prefix_index = 0;
};

}  // namespace moescope
