// SAX reader for tokenizer.json (see tokenizer_json.h).
#include "engine/tokenizer/tokenizer_json.h"

namespace moescope::tok {

namespace {

class Sax {
 public:
  Sax(TokenizerJson& out, std::string name) : m_out(out), m_name(std::move(name)) {}

  bool null() { return value(json()); }
  bool boolean(bool v) { return value(json(v)); }
  bool number_integer(int64_t v) { return m_mode == Mode::Vocab ? vocab_id(v) : value(json(v)); }
  bool number_unsigned(uint64_t v) {
    return m_mode == Mode::Vocab ? vocab_id(v > uint64_t(INT64_MAX) ? -1 : int64_t(v)) : value(json(v));
  }
  bool number_float(double v, const std::string&) { return m_mode == Mode::Vocab ? vocab_id(-1) : value(json(v)); }
  bool string(std::string& s) {
    if (m_mode == Mode::Vocab) return vocab_id(-1);
    if (m_mode == Mode::Merges) return merge_string(s);
    return value(json(std::move(s)));
  }
  bool binary(json::binary_t&) { return fail("unexpected binary value"); }

  bool key(std::string& k) {
    if (m_mode == Mode::Vocab) m_vocab_key = std::move(k);
    else m_key = std::move(k);
    return true;
  }

  bool start_object(std::size_t) {
    if (m_mode != Mode::Dom) return nested();
    if (at_model() && m_key == "vocab") {
      value(json::object());  // placeholder
      m_out.have_vocab = true;
      m_mode = Mode::Vocab;
      m_out.vocab.reserve(1 << 16);
      return true;
    }
    return open(json::object());
  }
  bool end_object() {
    if (m_mode == Mode::Vocab) return m_mode = Mode::Dom, true;
    m_stack.pop_back();
    m_stack_keys.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    if (m_mode == Mode::Merges && !m_in_pair) {
      m_in_pair = true;
      m_pair.clear();
      return true;
    }
    if (m_mode != Mode::Dom) return nested();
    if (at_model() && m_key == "merges") {
      value(json::array());  // placeholder
      m_out.have_merges = true;
      m_mode = Mode::Merges;
      m_out.merges.reserve(1 << 16);
      return true;
    }
    return open(json::array());
  }
  bool end_array() {
    if (m_mode == Mode::Merges) {
      if (m_in_pair) {
        m_in_pair = false;
        if (m_pair.size() != 2)
          return fail("model.merges[" + std::to_string(m_out.merges.size()) + "]: expected \"a b\" or [\"a\", \"b\"]");
        m_out.merges.emplace_back(std::move(m_pair[0]), std::move(m_pair[1]));
        return true;
      }
      m_mode = Mode::Dom;
      return true;
    }
    m_stack.pop_back();
    m_stack_keys.pop_back();
    return true;
  }
  bool parse_error(std::size_t pos, const std::string&, const json::exception& e) {
    m_error = m_name + ": invalid JSON: " + e.what();
    (void)pos;
    return false;
  }

  const std::string& error() const { return m_error; }

 private:
  enum class Mode { Dom, Vocab, Merges };

  // True when the container being filled is the top-level "model" object.
  bool at_model() const { return m_stack.size() == 2 && m_stack_keys[1] == "model"; }

  bool value(json v) {
    if (m_stack.empty()) {
      m_out.root = std::move(v);
      return true;
    }
    json& top = *m_stack.back();
    if (top.is_object()) top[m_key] = std::move(v);
    else top.push_back(std::move(v));
    return true;
  }
  bool open(json container) {
    if (m_stack.empty()) {
      m_out.root = std::move(container);
      m_stack.push_back(&m_out.root);
      m_stack_keys.emplace_back();
      return true;
    }
    json& top = *m_stack.back();
    json* child;
    if (top.is_object()) {
      child = &(top[m_key] = std::move(container));
      m_stack_keys.push_back(m_key);
    } else {
      top.push_back(std::move(container));
      child = &top.back();
      m_stack_keys.emplace_back("[]");
    }
    m_stack.push_back(child);
    return true;
  }
  // A container inside vocab or inside a merge: malformed.
  bool nested() {
    if (m_mode == Mode::Vocab) return fail("model.vocab: id of token '" + m_vocab_key + "' is not a non-negative integer");
    return fail("model.merges[" + std::to_string(m_out.merges.size()) + "]: expected \"a b\" or [\"a\", \"b\"]");
  }
  bool vocab_id(int64_t id) {
    if (id < 0 || id > INT32_MAX) return fail("model.vocab: id of token '" + m_vocab_key + "' is not a non-negative integer");
    m_out.vocab.emplace_back(std::move(m_vocab_key), id);
    return true;
  }
  bool merge_string(std::string& s) {
    if (m_in_pair) {
      m_pair.push_back(std::move(s));
      return true;
    }
    const size_t sp = s.find(' ');
    if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
      return fail("model.merges[" + std::to_string(m_out.merges.size()) + "]: expected \"a b\" (two tokens separated by one space), got \"" + s + "\"");
    m_out.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    return true;
  }
  bool fail(const std::string& what) {
    if (m_error.empty()) m_error = m_name + ": " + what;
    return false;
  }

  TokenizerJson& m_out;
  std::string m_name, m_key, m_vocab_key, m_error;
  std::vector<json*> m_stack;
  std::vector<std::string> m_stack_keys;
  Mode m_mode = Mode::Dom;
  bool m_in_pair = false;
  std::vector<std::string> m_pair;
};

}  // namespace

TokenizerJson parse_tokenizer_json(const std::string& bytes, const std::string& name) {
  TokenizerJson out;
  Sax sax(out, name);
  bool ok = false;
  try {
    ok = json::sax_parse(bytes, &sax);
  } catch (const json::exception& e) {
    throw Error(name + ": invalid JSON: " + e.what());
  }
  if (!ok) throw Error(sax.error().empty() ? name + ": invalid JSON" : sax.error());
  return out;
}

}  // namespace moescope::tok
