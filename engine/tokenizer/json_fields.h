// Small accessors for tokenizer.json fields that turn a missing or mistyped field into a
// moescope::Error naming the file and the JSON path.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "engine/util/error.h"

namespace moescope::tok {

using json = nlohmann::json;

inline const json& field(const json& j, const char* key, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": expected an object");
  auto it = j.find(key);
  if (it == j.end()) throw Error(where + ": missing field '" + key + "'");
  return *it;
}

inline std::string str_field(const json& j, const char* key, const std::string& where) {
  const json& v = field(j, key, where);
  if (!v.is_string()) throw Error(where + "." + key + ": expected a string");
  return v.get<std::string>();
}

inline bool bool_or(const json& j, const char* key, bool fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

inline std::string type_of(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": expected an object");
  return str_field(j, "type", where);
}

}  // namespace moescope::tok
