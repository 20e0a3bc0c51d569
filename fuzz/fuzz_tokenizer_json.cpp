// libFuzzer target: loading a tokenizer.json (model, normalizer, pre-tokenizer, post-processor, decoder,
// added tokens), then encoding and decoding a fixed mixed-script text with whatever loaded. Must load or
// throw moescope::Error.
#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = moescope::fuzz::write_file("tokenizer.json", data, size);
  std::shared_ptr<moescope::Tokenizer> tok;
  try {
    tok = moescope::Tokenizer::load(path);
  } catch (const moescope::Error&) {
    return 0;
  }
  static const char* const kTexts[] = {"Hello world, it's 2024!\n", " \t  spaces  ", "日本語 mixed émoji 🙂", "<s>x</s>", ""};
  for (const char* text : kTexts) {
    auto ids = tok->encode(text, true);
    (void)tok->decode(ids, false);
    (void)tok->decode(ids, true);
    for (int32_t id : ids) (void)tok->display_piece(id);
  }
  (void)tok->decode({-1, 0, 1, tok->vocab_size(), 1 << 30});
  return 0;
}
