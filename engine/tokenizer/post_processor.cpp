// Post-processor implementations (see post_processor.h).
#include "engine/tokenizer/post_processor.h"

#include <sstream>

namespace moescope::tok {

namespace {

// Special tokens before and after the sequence: every template reduces to this for one sequence.
class Wrap : public PostProcessor {
 public:
  Wrap(std::vector<int32_t> pi, std::vector<std::string> pt, std::vector<int32_t> si, std::vector<std::string> st)
      : m_pre_ids(std::move(pi)), m_pre_tokens(std::move(pt)), m_post_ids(std::move(si)), m_post_tokens(std::move(st)) {}
  void process(std::vector<int32_t>& ids, std::vector<std::string>& tokens) const override {
    ids.insert(ids.begin(), m_pre_ids.begin(), m_pre_ids.end());
    ids.insert(ids.end(), m_post_ids.begin(), m_post_ids.end());
    tokens.insert(tokens.begin(), m_pre_tokens.begin(), m_pre_tokens.end());
    tokens.insert(tokens.end(), m_post_tokens.begin(), m_post_tokens.end());
  }

 private:
  std::vector<int32_t> m_pre_ids;
  std::vector<std::string> m_pre_tokens;
  std::vector<int32_t> m_post_ids;
  std::vector<std::string> m_post_tokens;
};

class NoOp : public PostProcessor {
 public:
  void process(std::vector<int32_t>&, std::vector<std::string>&) const override {}
};

class SequencePost : public PostProcessor {
 public:
  explicit SequencePost(std::vector<std::unique_ptr<PostProcessor>> parts) : m_parts(std::move(parts)) {}
  void process(std::vector<int32_t>& ids, std::vector<std::string>& tokens) const override {
    for (const auto& p : m_parts) p->process(ids, tokens);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> m_parts;
};

std::unique_ptr<PostProcessor> make_template(const json& j, const std::string& where) {
  const json& single = field(j, "single", where);
  const json& specials = j.contains("special_tokens") ? j["special_tokens"] : json::object();
  // Normalise both spellings (array of pieces, or "<s>:0 $A:0" string) to a list of names; "" = $A.
  std::vector<std::string> names;
  if (single.is_string()) {
    std::istringstream in(single.get<std::string>());
    for (std::string piece; in >> piece;) {
      if (piece[0] == '$') {
        names.emplace_back();
      } else {
        const size_t colon = piece.rfind(':');
        names.push_back(colon == std::string::npos ? piece : piece.substr(0, colon));
      }
    }
  } else if (single.is_array()) {
    for (const auto& item : single) {
      if (item.contains("Sequence")) {
        names.emplace_back();
      } else if (item.contains("SpecialToken")) {
        names.push_back(str_field(item["SpecialToken"], "id", where + ".single"));
      } else {
        throw Error(where + ".single: expected SpecialToken or Sequence pieces");
      }
    }
  } else {
    throw Error(where + ".single: expected an array or a string");
  }
  std::vector<int32_t> ids[2];
  std::vector<std::string> toks[2];
  int side = 0, sequences = 0;
  for (const auto& name : names) {
    if (name.empty()) {
      side = 1;
      ++sequences;
      continue;
    }
    auto it = specials.find(name);
    if (it == specials.end()) throw Error(where + ": special token '" + name + "' of the template is not in special_tokens");
    const json& ti = field(*it, "ids", where + ".special_tokens." + name);
    const json& tt = field(*it, "tokens", where + ".special_tokens." + name);
    if (!ti.is_array() || !tt.is_array() || ti.size() != tt.size())
      throw Error(where + ".special_tokens." + name + ": ids and tokens must be arrays of equal length");
    for (size_t k = 0; k < ti.size(); ++k) {
      ids[side].push_back(ti[k].get<int32_t>());
      toks[side].push_back(tt[k].get<std::string>());
    }
  }
  if (sequences != 1) throw Error(where + ".single: the template must contain the sequence ($A) exactly once");
  return std::make_unique<Wrap>(ids[0], toks[0], ids[1], toks[1]);
}

// RobertaProcessing / BertProcessing: "cls": ["<s>", 0], "sep": ["</s>", 2] -> cls $A sep.
std::unique_ptr<PostProcessor> make_cls_sep(const json& j, const std::string& where) {
  auto pair = [&](const char* key) {
    const json& p = field(j, key, where);
    if (!p.is_array() || p.size() != 2 || !p[0].is_string() || !p[1].is_number_integer())
      throw Error(where + "." + key + ": expected [\"token\", id]");
    return std::make_pair(p[0].get<std::string>(), p[1].get<int32_t>());
  };
  const auto cls = pair("cls"), sep = pair("sep");
  return std::make_unique<Wrap>(std::vector<int32_t>{cls.second}, std::vector<std::string>{cls.first},
                                std::vector<int32_t>{sep.second}, std::vector<std::string>{sep.first});
}

}  // namespace

std::unique_ptr<PostProcessor> make_wrap_processor(std::vector<int32_t> pi, std::vector<std::string> pt,
                                                   std::vector<int32_t> si, std::vector<std::string> st) {
  return std::make_unique<Wrap>(std::move(pi), std::move(pt), std::move(si), std::move(st));
}

std::unique_ptr<PostProcessor> make_post_processor(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, where);
  if (type == "TemplateProcessing") return make_template(j, where);
  if (type == "RobertaProcessing" || type == "BertProcessing") return make_cls_sep(j, where);
  if (type == "ByteLevel") return std::make_unique<NoOp>();
  if (type == "Sequence") {
    const json& list = field(j, "processors", where);
    if (!list.is_array()) throw Error(where + ".processors: expected an array");
    std::vector<std::unique_ptr<PostProcessor>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_post_processor(list[i], where + ".processors[" + std::to_string(i) + "]");
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequencePost>(std::move(parts));
  }
  throw Error(where + ": post_processor type '" + type + "' is not supported (supported: TemplateProcessing, "
              "RobertaProcessing, BertProcessing, ByteLevel, Sequence)");
}

}  // namespace moescope::tok
