// Byte <-> character map of the ByteLevel stages (see byte_level.h).
#include "engine/tokenizer/byte_level.h"

#include "engine/tokenizer/utf8.h"

namespace moescope::tok {

namespace {

struct Tables {
  std::array<char32_t, 256> cp{};
  std::array<std::string, 256> utf8;
  std::array<int, 68> shifted{};  // byte of U+0100 + i
  Tables() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      cp[b] = printable ? char32_t(b) : char32_t(256 + n++);
      append_utf8(utf8[b], cp[b]);
      if (cp[b] >= 256) shifted[cp[b] - 256] = b;
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const std::string& byte_to_char_utf8(unsigned char b) { return tables().utf8[b]; }

int char_to_byte(char32_t c) {
  // The map's image is U+0021..U+0143; invert it arithmetically.
  if ((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF)) return int(c);
  if (c < 256 || c >= 256 + 68) return -1;
  return tables().shifted[c - 256];
}

std::string bytes_to_chars(std::string_view s) {
  const auto& t = tables();
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char b : s) out += t.utf8[b];
  return out;
}

}  // namespace moescope::tok
