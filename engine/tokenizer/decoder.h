// Decoders of tokenizer.json ("decoder"): ByteLevel, ByteFallback, Metaspace, Replace, Strip,
// Fuse and Sequence. Like the Rust library's decode_chain they map a list of token strings to a
// list of strings that are finally concatenated.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/tokenizer/json_fields.h"

namespace moescope::tok {

struct DecodeMode {
  // Display mode, for the text of a single token shown on its own: leading-space stripping that
  // only makes sense at the start of a text (Strip start, Metaspace first token) is skipped, and
  // bytes that are not valid UTF-8 are kept raw instead of becoming U+FFFD (the caller shows them).
  bool display = false;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens, const DecodeMode& mode) const = 0;
};

// Null JSON gives nullptr (tokens are joined with " ", as the Rust library does).
std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where);

}  // namespace moescope::tok
