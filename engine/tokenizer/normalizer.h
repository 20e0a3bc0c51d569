// Normalizers of tokenizer.json ("normalizer"): NFC/NFD/NFKC/NFKD, Lowercase, Prepend, Replace,
// Strip, ByteLevel and Sequence. They run on each text segment between added tokens.
#pragma once
#include <memory>
#include <string>

#include "engine/tokenizer/json_fields.h"

namespace moescope::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& s) const = 0;  // s is valid UTF-8 and stays so
};

// Null JSON gives nullptr (no normalizer). `where` is "<file>: normalizer" for error messages.
std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where);

// Unicode normalisation form `form` ("NFC", "NFD", "NFKC", "NFKD") of valid UTF-8 text.
std::string unicode_normalize(const std::string& s, const std::string& form);

}  // namespace moescope::tok
