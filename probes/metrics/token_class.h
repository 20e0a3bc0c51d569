// Token classes for specialisation: word / number / punctuation / whitespace / code-symbol / special /
// other, decided from a token's decoded text by the rule documented in docs/metrics.md ("Token classes").
#pragma once
#include <string_view>

namespace moescope::metrics {

enum class TokenClass { Word, Number, Punctuation, Whitespace, CodeSymbol, Special, Other };
constexpr int kNumTokenClasses = 7;

const char* token_class_name(TokenClass c);  // "word", "number", "punctuation", "whitespace", ...
// `is_special`: the tokenizer marks the token special (added special token); the text rule also
// recognises <|...|>, <s>, </s>, <unk>, <pad>, <bos>, <eos>.
TokenClass classify_token(std::string_view text, bool is_special = false);

}  // namespace moescope::metrics
