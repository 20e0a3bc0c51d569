// Fast reading of tokenizer.json: one SAX pass builds a JSON tree of everything except
// model.vocab and model.merges (100k+ entries each in real checkpoints), which go straight into flat
// vectors. Building a full nlohmann DOM for them costs more than the whole rest of loading.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/tokenizer/json_fields.h"

namespace moescope::tok {

struct TokenizerJson {
  json root;  // model.vocab / model.merges are left as empty placeholders when they were read below
  bool have_vocab = false, have_merges = false;
  std::vector<std::pair<std::string, int64_t>> vocab;        // in file order
  std::vector<std::pair<std::string, std::string>> merges;   // in rank order
};

// Parses `bytes` (the file `name`); throws moescope::Error naming the file on invalid JSON or a
// malformed vocab/merges entry.
TokenizerJson parse_tokenizer_json(const std::string& bytes, const std::string& name);

}  // namespace moescope::tok
