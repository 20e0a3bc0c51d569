// libFuzzer target: the encoder and decoder on arbitrary bytes (invalid UTF-8 included) with each
// fixture tokenizer (byte-level GPT-2, Llama-3, Qwen and sentencepiece-converted BPE). The first input
// byte picks the tokenizer; the rest is the text. Decoding what was encoded must not fail, and the
// byte-level tokenizers must round-trip valid UTF-8 exactly.
#include <utf8proc.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

#ifndef MOESCOPE_FIXTURES_DIR
#error "MOESCOPE_FIXTURES_DIR must name tests/fixtures"
#endif

namespace {
const std::vector<std::shared_ptr<moescope::Tokenizer>>& tokenizers() {
  static const auto all = [] {
    std::vector<std::shared_ptr<moescope::Tokenizer>> v;
    for (const char* name : {"gpt2_bytelevel", "llama3_bytelevel", "qwen_bytelevel", "sentencepiece_bpe"})
      v.push_back(moescope::Tokenizer::load(std::string(MOESCOPE_FIXTURES_DIR) + "/tokenizers/" + name));
    return v;
  }();
  return all;
}

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t j = 1; j < n; ++j) {
      const unsigned char d = static_cast<unsigned char>(s[i + j]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n;
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& all = tokenizers();
  const size_t which = data[0] % all.size();
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto& tok = all[which];
  const auto ids = tok->encode(text, false);
  const std::string back = tok->decode(ids, false);
  if (!valid_utf8(back)) std::abort();  // decode promises valid UTF-8
  // Byte-level BPE is lossless on valid UTF-8 text without special-token strings, up to its normalizer:
  // Qwen's (index 2) is NFC, computed here with utf8proc directly.
  if (which < 3 && valid_utf8(text) && text.find("<|") == std::string::npos) {
    std::string expected = text;
    if (which == 2) {
      utf8proc_uint8_t* nfc = nullptr;
      const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), utf8proc_ssize_t(text.size()),
                                  &nfc, utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
      if (n < 0) std::abort();  // valid UTF-8 always maps
      expected.assign(reinterpret_cast<const char*>(nfc), size_t(n));
      std::free(nfc);
    }
    if (back != expected) std::abort();
  }
  for (int32_t id : ids) (void)tok->display_piece(id);
  return 0;
}
