#include "app/cli/cli_args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

namespace moescope::cli {

long long parse_int(const std::string& flag, const std::string& v, long long lo, long long hi) {
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || x < lo || x > hi)
    throw UsageError(flag + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" +
                     v + "'");
  return x;
}

double parse_number(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || !std::isfinite(x)) throw UsageError(flag + ": expected a number, got '" + v + "'");
  return x;
}

static std::string short_num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

double parse_number(const std::string& flag, const std::string& v, double lo, double hi, bool lo_open) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || !std::isfinite(x) || x < lo || x > hi || (lo_open && x == lo))
    throw UsageError(flag + ": expected a number in " + (lo_open ? "(" : "[") + short_num(lo) + ", " + short_num(hi) +
                     "], got '" + v + "'");
  return x;
}

std::vector<int32_t> parse_ids(const std::string& flag, const std::string& v) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (true) {
    const size_t comma = v.find(',', start);
    const std::string part = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    ids.push_back(int32_t(parse_int(flag, part, 0, 0x7fffffff)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ids;
}

std::vector<PromptInput> read_prompts_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError(path + ": cannot read the prompts file");
  std::vector<PromptInput> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(lineno);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception&) {
      throw UsageError(where + ": not a JSON object");
    }
    PromptInput p;
    if (j.is_string()) {
      p.text = j.get<std::string>();
      out.push_back(std::move(p));
      continue;
    }
    if (!j.is_object()) throw UsageError(where + ": not a JSON object");
    const char* text_key = j.contains("text") ? "text" : j.contains("prompt") ? "prompt" : nullptr;
    if (text_key && j[text_key].is_string()) {
      p.text = j[text_key].get<std::string>();
    } else if (j.contains("ids") && j["ids"].is_array()) {
      p.is_text = false;
      for (const auto& x : j["ids"]) {
        if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > 0x7fffffff)
          throw UsageError(where + ": \"ids\" must hold non-negative integers");
        p.ids.push_back(int32_t(x.get<int64_t>()));
      }
      if (p.ids.empty()) throw UsageError(where + ": \"ids\" is empty");
    } else {
      throw UsageError(where + ": needs a \"text\" string (or an \"ids\" array)");
    }
    for (const char* key : {"label", "domain", "id"})
      if (j.contains(key) && j[key].is_string()) {
        p.label = j[key].get<std::string>();
        break;
      }
    out.push_back(std::move(p));
  }
  if (out.empty()) throw UsageError(path + ": no prompts");
  return out;
}

}  // namespace moescope::cli
