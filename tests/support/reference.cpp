// Reference: safetensors = u64 little-endian header size, JSON header, raw little-endian data.
#include "tests/support/reference.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace moescope::test {

double e4m3_value(uint8_t code) {
  const int exp = (code >> 3) & 15, man = code & 7;
  const double mag = exp == 0 ? std::ldexp(man / 8.0, -6) : std::ldexp(1.0 + man / 8.0, exp - 7);
  return code & 0x80 ? -mag : mag;
}


namespace {
float half_to_float(uint16_t h, bool bf16) {
  uint32_t u;
  if (bf16) {
    u = uint32_t(h) << 16;
  } else {
    const uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0) {
      float f = std::ldexp(float(mant), -24);
      return sign ? -f : f;
    }
    u = sign | (exp == 31 ? 0x7f800000u | (mant << 13) : ((exp + 112) << 23) | (mant << 13));
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
}  // namespace

Reference::Reference(const std::string& path) : m_path(path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  if (!in || n > (1u << 30)) throw std::runtime_error(path + ": bad header size");
  std::string header(n, '\0');
  in.read(header.data(), std::streamsize(n));
  m_data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  const auto j = nlohmann::json::parse(header);
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") {
      for (auto m = it->begin(); m != it->end(); ++m) m_meta[m.key()] = m->get<std::string>();
      continue;
    }
    Entry e;
    e.dtype = (*it)["dtype"].get<std::string>();
    e.shape = (*it)["shape"].get<std::vector<int64_t>>();
    e.begin = (*it)["data_offsets"][0].get<size_t>();
    e.end = (*it)["data_offsets"][1].get<size_t>();
    if (e.end > m_data.size() || e.begin > e.end) throw std::runtime_error(path + ": tensor '" + it.key() + "' out of range");
    m_entries[it.key()] = e;
  }
}

std::vector<std::string> Reference::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : m_entries) out.push_back(k);
  return out;
}

const Reference::Entry& Reference::entry(const std::string& name) const {
  auto it = m_entries.find(name);
  if (it == m_entries.end()) throw std::runtime_error(m_path + ": no tensor '" + name + "'");
  return it->second;
}

std::vector<int64_t> Reference::shape(const std::string& name) const { return entry(name).shape; }

std::vector<float> Reference::floats(const std::string& name) const {
  const Entry& e = entry(name);
  const char* p = m_data.data() + e.begin;
  const size_t bytes = e.end - e.begin;
  std::vector<float> out;
  if (e.dtype == "F32") {
    out.resize(bytes / 4);
    std::memcpy(out.data(), p, bytes);
  } else if (e.dtype == "F64") {
    for (size_t i = 0; i < bytes / 8; ++i) {
      double d;
      std::memcpy(&d, p + 8 * i, 8);
      out.push_back(float(d));
    }
  } else if (e.dtype == "BF16" || e.dtype == "F16") {
    for (size_t i = 0; i < bytes / 2; ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out.push_back(half_to_float(h, e.dtype == "BF16"));
    }
  } else {
    throw std::runtime_error(m_path + ": tensor '" + name + "' is " + e.dtype + ", not floating point");
  }
  return out;
}

std::vector<int64_t> Reference::ints(const std::string& name) const {
  const Entry& e = entry(name);
  const char* p = m_data.data() + e.begin;
  const size_t bytes = e.end - e.begin;
  std::vector<int64_t> out;
  if (e.dtype == "I64") {
    out.resize(bytes / 8);
    std::memcpy(out.data(), p, bytes);
  } else if (e.dtype == "I32") {
    for (size_t i = 0; i < bytes / 4; ++i) {
      int32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      out.push_back(v);
    }
  } else {
    throw std::runtime_error(m_path + ": tensor '" + name + "' is " + e.dtype + ", not an integer type");
  }
  return out;
}

std::vector<int32_t> Reference::ids(const std::string& name) const {
  const auto v = ints(name);
  return std::vector<int32_t>(v.begin(), v.end());
}

std::string Reference::metadata(const std::string& key) const {
  auto it = m_meta.find(key);
  return it == m_meta.end() ? std::string() : it->second;
}

}  // namespace moescope::test
