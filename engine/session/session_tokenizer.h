// Internal to the session: the few tokenizer calls it needs, in one place.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moescope {

class Tokenizer;

// tokenizer.json of a checkpoint directory, or null when there is none (ids-only models).
std::shared_ptr<const Tokenizer> load_session_tokenizer(const std::string& model_dir);
std::vector<int32_t> session_encode(const Tokenizer& tok, const std::string& text, bool add_special_tokens);
// EOS ids the tokenizer knows (tokenizer_config / generation_config) besides config.json's.
bool session_tokenizer_is_eos(const Tokenizer& tok, int32_t id);

}  // namespace moescope
