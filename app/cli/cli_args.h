// Argument parsing shared by the subcommands: usage errors (exit 2), numbers with ranges, id lists and
// prompt files, so every command words the same mistake the same way.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/util/error.h"

namespace moescope::cli {

// A mistake in the command line itself; commands print it with their usage and exit 2.
struct UsageError : Error {
  using Error::Error;
};

// Whole number in [lo, hi]: "FLAG: expected an integer in [lo, hi], got 'V'".
long long parse_int(const std::string& flag, const std::string& v, long long lo, long long hi);
// Finite number: "FLAG: expected a number, got 'V'".
double parse_number(const std::string& flag, const std::string& v);
// Finite number in [lo, hi] (or (lo, hi] when lo_open).
double parse_number(const std::string& flag, const std::string& v, double lo, double hi, bool lo_open);
// "1,2,3" -> ids (each in [0, 2^31-1]).
std::vector<int32_t> parse_ids(const std::string& flag, const std::string& v);

struct PromptInput {
  bool is_text = true;
  std::string text;          // when is_text
  std::vector<int32_t> ids;  // otherwise
  std::string label;         // "label" / "domain" / "id" of the line, if any
};

// A JSON-lines prompt suite: each non-blank line is a JSON string, or an object with "text" (or "prompt")
// or "ids", and optionally "label" / "domain" / "id". Errors name the file and line (UsageError).
std::vector<PromptInput> read_prompts_file(const std::string& path);

}  // namespace moescope::cli
