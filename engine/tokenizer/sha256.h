// SHA-256 (FIPS 180-4) of a byte string as lowercase hex; used to identify the tokenizer.json a
// trace was made with.
#pragma once
#include <string>
#include <string_view>

namespace moescope {

std::string sha256_hex(std::string_view data);

}  // namespace moescope
