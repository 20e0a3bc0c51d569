// Pre-tokenizers of tokenizer.json ("pre_tokenizer"): Split, ByteLevel, Metaspace, Whitespace,
// WhitespaceSplit, BertPreTokenizer, CharDelimiterSplit, Digits, Punctuation and Sequence. Each
// splits every piece of a normalized segment into smaller pieces (the "words" BPE sees).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/tokenizer/json_fields.h"

namespace moescope::tok {

struct PreToken {
  std::string text;
  bool at_start = false;  // begins at offset 0 of the original input (Metaspace prepend_scheme "first")
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(std::vector<PreToken>& pieces) const = 0;
};

// Null JSON gives nullptr (the whole segment is one word).
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where);

}  // namespace moescope::tok
