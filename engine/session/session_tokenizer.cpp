// Session tokenizer glue (see session_tokenizer.h).
#include "engine/session/session_tokenizer.h"

#include "engine/util/error.h"

namespace moescope {

std::shared_ptr<const Tokenizer> load_session_tokenizer(const std::string&) { return nullptr; }

std::vector<int32_t> session_encode(const Tokenizer&, const std::string&, bool) {
  throw Error("text prompts need the tokenizer, which this build lacks");
}

}  // namespace moescope
