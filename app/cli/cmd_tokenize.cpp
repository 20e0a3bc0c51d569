// `moescope tokenize MODEL|tokenizer.json [--add-special-tokens]`: raw UTF-8 text on stdin ->
// one line {"ids":[..],"tokens":[..]}. With --decode: a JSON array of ids on stdin -> {"text":".."}.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "app/cli/cli.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"

namespace moescope::cli {

namespace {

void print_help() {
  std::printf(
      "usage: moescope tokenize MODEL|tokenizer.json [--add-special-tokens]\n"
      "       moescope tokenize MODEL|tokenizer.json --decode [--skip-special-tokens]\n\n"
      "Encodes the raw UTF-8 text read from stdin and prints {\"ids\":[..],\"tokens\":[..]} on one line.\n"
      "With --decode, reads a JSON array of token ids from stdin and prints {\"text\":\"..\"}.\n"
      "MODEL is a checkpoint directory holding tokenizer.json.\n\n"
      "  --add-special-tokens   apply the tokenizer's post-processor (e.g. prepend <s>)\n"
      "  --decode               decode ids instead of encoding text\n"
      "  --skip-special-tokens  with --decode: leave special tokens out of the text\n");
}

std::string read_stdin() {
  std::ios::sync_with_stdio(false);
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

}  // namespace

int cmd_tokenize(const Args& args) {
  std::string path;
  bool add_special = false, decode = false, skip_special = false;
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      print_help();
      return 0;
    } else if (a == "--add-special-tokens") {
      add_special = true;
    } else if (a == "--decode") {
      decode = true;
    } else if (a == "--skip-special-tokens") {
      skip_special = true;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "moescope tokenize: error: unknown option '%s' (see --help)\n", a.c_str());
      return 2;
    } else if (path.empty()) {
      path = a;
    } else {
      std::fprintf(stderr, "moescope tokenize: error: unexpected argument '%s' (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "moescope tokenize: error: missing MODEL or tokenizer.json (see --help)\n");
    return 2;
  }
  if (add_special && decode) {
    std::fprintf(stderr, "moescope tokenize: error: --add-special-tokens applies to encoding, not --decode\n");
    return 2;
  }
  const auto tok = Tokenizer::load(path);
  const std::string input = read_stdin();
  nlohmann::json out;
  if (decode) {
    nlohmann::json ids_json;
    try {
      ids_json = nlohmann::json::parse(input);
    } catch (const nlohmann::json::exception&) {
      throw Error("stdin: expected a JSON array of token ids, e.g. [1, 2, 3]");
    }
    if (!ids_json.is_array()) throw Error("stdin: expected a JSON array of token ids, e.g. [1, 2, 3]");
    std::vector<int32_t> ids;
    ids.reserve(ids_json.size());
    for (size_t i = 0; i < ids_json.size(); ++i) {
      const auto& v = ids_json[i];
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= tok->vocab_size())
        throw Error("stdin: element " + std::to_string(i) + " (" + v.dump() + ") is not a token id in 0.." +
                    std::to_string(tok->vocab_size() - 1));
      ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
    }
    out["text"] = tok->decode(ids, skip_special);
  } else {
    const Encoding enc = tok->encode_with_tokens(input, add_special);
    out["ids"] = enc.ids;
    out["tokens"] = enc.tokens;
  }
  const std::string line = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace moescope::cli
