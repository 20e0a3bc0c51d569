// A small test-side reader of reference.safetensors files (Hugging Face outputs for the fixtures).
// Deliberately independent of the engine's checkpoint reader, so a bug there cannot hide in both.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace moescope::test {

// E4M3 ("fn") from the OCP FP8 spec, written here for the tests in double precision: sign, 4-bit exponent with
// bias 7, 3 mantissa bits, exponent 0 subnormal (the engine's decoders are checked against it).
double e4m3_value(uint8_t code);

class Reference {
 public:
  explicit Reference(const std::string& path);  // throws std::runtime_error naming the file

  bool has(const std::string& name) const { return m_entries.count(name) != 0; }
  std::vector<std::string> names() const;
  std::vector<int64_t> shape(const std::string& name) const;
  std::vector<float> floats(const std::string& name) const;   // F32 / F64 / BF16 / F16 as float
  std::vector<int64_t> ints(const std::string& name) const;   // I64 / I32
  std::vector<int32_t> ids(const std::string& name) const;    // ints narrowed to int32 token ids
  std::string metadata(const std::string& key) const;         // "" when absent

 private:
  struct Entry {
    std::string dtype;
    std::vector<int64_t> shape;
    size_t begin = 0, end = 0;
  };
  const Entry& entry(const std::string& name) const;
  std::string m_path;
  std::vector<char> m_data;  // the bytes after the header
  std::map<std::string, Entry> m_entries;
  std::map<std::string, std::string> m_meta;
};

}  // namespace moescope::test
