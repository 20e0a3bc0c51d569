// Post-processors of tokenizer.json ("post_processor"), applied only when encoding with
// add_special_tokens: TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel (no effect on
// ids) and Sequence. Only single sequences are supported (no pairs).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tokenizer/json_fields.h"

namespace moescope::tok {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual void process(std::vector<int32_t>& ids, std::vector<std::string>& tokens) const = 0;
};

// Null JSON gives nullptr.
std::unique_ptr<PostProcessor> make_post_processor(const json& j, const std::string& where);

// A template "[prefix] $A [suffix]" made from explicit tokens (used for tokenizer_config.json's
// add_bos_token / add_eos_token on Llama-style tokenizers).
std::unique_ptr<PostProcessor> make_wrap_processor(std::vector<int32_t> pre_ids, std::vector<std::string> pre_tokens,
                                                   std::vector<int32_t> post_ids, std::vector<std::string> post_tokens);

}  // namespace moescope::tok
