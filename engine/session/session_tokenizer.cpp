// Session tokenizer glue (see session_tokenizer.h).
#include "engine/session/session_tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "engine/tokenizer/tokenizer.h"

namespace moescope {

std::shared_ptr<const Tokenizer> load_session_tokenizer(const std::string& model_dir) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(model_dir) / "tokenizer.json", ec)) return nullptr;
  return Tokenizer::load(model_dir);
}

std::vector<int32_t> session_encode(const Tokenizer& tok, const std::string& text, bool add_special_tokens) {
  return tok.encode(text, add_special_tokens);
}

bool session_tokenizer_is_eos(const Tokenizer& tok, int32_t id) {
  const auto& eos = tok.eos_ids();
  return std::find(eos.begin(), eos.end(), id) != eos.end();
}

}  // namespace moescope
