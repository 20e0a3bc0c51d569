// GPT-2's reversible byte <-> printable-character map used by the ByteLevel pre-tokenizer and
// decoder: bytes 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF map to themselves, the other 68 bytes to
// U+0100.. in byte order (so ' ' becomes 'Ġ' and '\n' becomes 'Ċ').
#pragma once
#include <array>
#include <string>
#include <string_view>

namespace moescope::tok {

// UTF-8 text of the character standing for byte b.
const std::string& byte_to_char_utf8(unsigned char b);
// The byte a character stands for, or -1 when `cp` is not in the map.
int char_to_byte(char32_t cp);
// Maps every byte of `s` to its character.
std::string bytes_to_chars(std::string_view s);

}  // namespace moescope::tok
