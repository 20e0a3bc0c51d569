// Tokenizer: loads a Hugging Face tokenizer.json (BPE models: byte-level GPT-2/Qwen2/Llama-3/OLMoE/
// DeepSeek style and sentencepiece-converted Llama/Mistral/Mixtral style) and encodes/decodes
// exactly like the Rust `tokenizers` library. See docs/tokenizer.md for what is supported.
//
//   auto tok = moescope::Tokenizer::load("path/to/checkpoint");   // or ".../tokenizer.json"
//   std::vector<int32_t> ids = tok->encode("Hello world", /*add_special_tokens=*/true);
//   std::string text = tok->decode(ids);
//
// Input text that is not valid UTF-8 is repaired first: every ill-formed sequence becomes one
// U+FFFD per maximal subpart (as Python's bytes.decode('utf-8', 'replace') does), then encoded.
// A Tokenizer is immutable after load() and safe to use from several threads.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace moescope {

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<std::string> tokens;  // vocab strings ("Ġthe", "▁the", "<0x0A>"), added tokens' content
};

class Tokenizer {
 public:
  // `path_or_dir`: a tokenizer.json file, or a directory holding one. tokenizer_config.json (bos/eos,
  // add_bos_token/add_eos_token) and generation_config.json (eos_token_id) are read when they sit
  // beside it. Throws moescope::Error naming the file for unreadable, malformed or unsupported
  // files (e.g. a WordPiece/Unigram/WordLevel model).
  static std::shared_ptr<Tokenizer> load(const std::string& path_or_dir);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // add_special_tokens applies the post-processor (e.g. prepends <s> / <|begin_of_text|>).
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;
  Encoding encode_with_tokens(std::string_view text, bool add_special_tokens) const;

  // Ids unknown to the tokenizer are skipped (as the Rust library does); the result is valid UTF-8.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

  // The vocab string of an id ("Ġthe", "<0x0A>", "<|im_end|>"); "" for an unknown id.
  std::string token_text(int32_t id) const;
  // What one token looks like on its own in a UI: its decoded text with leading spaces kept
  // (" the", "\n"); bytes that are only part of a UTF-8 character are shown as "<0xE6>"; added
  // tokens show their content. "" for an unknown id.
  std::string display_piece(int32_t id) const;
  int32_t token_to_id(std::string_view token) const;  // -1 when absent

  // Largest id + 1 over the model vocab and the added tokens (= model vocab + added tokens when ids
  // are dense, as in every real checkpoint).
  int32_t vocab_size() const;
  int32_t bos_id() const;                       // -1 when there is none
  const std::vector<int32_t>& eos_ids() const;  // tokenizer_config eos_token, then generation_config ids
  bool is_special(int32_t id) const;            // an added token with "special": true
  const std::string& sha256() const;            // of the tokenizer.json bytes, lowercase hex
  const std::string& path() const;              // the tokenizer.json that was loaded

 private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace moescope
