// Tokenizer (see tokenizer.h): loading tokenizer.json and the encode/decode pipelines.
// Encode: added tokens on the raw text -> normalizer per segment -> normalized added tokens ->
// pre-tokenizer -> BPE per word -> post-processor. Decode: ids -> token strings -> decoder chain.
#include "engine/tokenizer/tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "engine/tokenizer/added_vocabulary.h"
#include "engine/tokenizer/bpe_model.h"
#include "engine/tokenizer/decoder.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/post_processor.h"
#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/sha256.h"
#include "engine/tokenizer/tokenizer_json.h"
#include "engine/tokenizer/utf8.h"

namespace moescope {

using tok::json;

struct Tokenizer::Impl {
  std::string path, sha;
  std::unique_ptr<tok::Normalizer> normalizer;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer;
  std::unique_ptr<tok::BpeModel> model;
  std::unique_ptr<tok::PostProcessor> post_processor;
  std::unique_ptr<tok::Decoder> decoder;
  std::vector<tok::AddedToken> added;
  std::unordered_map<int32_t, size_t> added_by_id;
  tok::Vocab added_by_content;
  std::unique_ptr<tok::AddedTokenMatcher> raw_matcher, normalized_matcher;
  int32_t vocab_size = 0;
  int32_t bos = -1;
  std::vector<int32_t> eos;

  const std::string* token_of(int32_t id) const {
    if (auto it = added_by_id.find(id); it != added_by_id.end()) return &added[it->second].content;
    return model->id_to_token(id);
  }
  void encode_segment(std::string text, bool at_start, Encoding& e) const;
};

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error(p.string() + ": cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(p.string() + ": read error");
  return ss.str();
}

json parse_json(const std::string& bytes, const std::string& where) {
  try {
    return json::parse(bytes);
  } catch (const json::exception& e) {
    throw Error(where + ": invalid JSON: " + e.what());
  }
}

// A special token in tokenizer_config.json is a string or {"content": ...} (AddedToken dict).
std::string config_token(const json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  return {};
}

tok::AddedToken parse_added(const json& j, const std::string& where) {
  tok::AddedToken t;
  const json& id = tok::field(j, "id", where);
  if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
    throw Error(where + ".id: expected a non-negative integer");
  t.id = static_cast<int32_t>(id.get<int64_t>());
  t.content = tok::str_field(j, "content", where);
  t.single_word = tok::bool_or(j, "single_word", false);
  t.lstrip = tok::bool_or(j, "lstrip", false);
  t.rstrip = tok::bool_or(j, "rstrip", false);
  t.special = tok::bool_or(j, "special", false);
  t.normalized = tok::bool_or(j, "normalized", !t.special);
  return t;
}

}  // namespace

Tokenizer::Tokenizer() : m_impl(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

std::shared_ptr<Tokenizer> Tokenizer::load(const std::string& path_or_dir) {
  namespace fs = std::filesystem;
  fs::path file = path_or_dir;
  std::error_code ec;
  if (fs::is_directory(file, ec)) {
    file /= "tokenizer.json";
    if (!fs::exists(file, ec)) throw Error(path_or_dir + ": no tokenizer.json in this directory");
  }
  const std::string name = file.string();
  const std::string bytes = read_file(file);
  tok::TokenizerJson parsed = tok::parse_tokenizer_json(bytes, name);
  const json& root = parsed.root;
  if (!root.is_object()) throw Error(name + ": expected a JSON object at the top level");

  std::shared_ptr<Tokenizer> t(new Tokenizer());
  Impl& d = *t->m_impl;
  d.path = name;
  d.sha = sha256_hex(bytes);

  const json& model = tok::field(root, "model", name);
  if (!model.is_object()) throw Error(name + ": 'model' is not an object");
  std::string type;
  if (model.contains("type") && model["type"].is_string()) type = model["type"].get<std::string>();
  else if (model.contains("merges")) type = "BPE";  // the type tag is optional for BPE in old files
  if (type != "BPE")
    throw Error(name + ": model type '" + (type.empty() ? std::string("(none)") : type) +
                "' is not supported; only BPE tokenizers can be loaded (WordPiece, Unigram and WordLevel cannot)");
  // vocab / merges were read into flat lists by the SAX reader unless they are missing or not an
  // object / array, which the lookups below report.
  if (!parsed.have_vocab && !tok::field(model, "vocab", name + ": model").is_object())
    throw Error(name + ": model.vocab: expected an object {token: id}");
  if (!parsed.have_merges && !tok::field(model, "merges", name + ": model").is_array())
    throw Error(name + ": model.merges: expected an array");
  d.model = std::make_unique<tok::BpeModel>(model, std::move(parsed.vocab), std::move(parsed.merges), name + ": model");

  auto get = [&](const char* key) -> const json& {
    static const json null_json;
    auto it = root.find(key);
    return it == root.end() ? null_json : *it;
  };
  d.normalizer = tok::make_normalizer(get("normalizer"), name + ": normalizer");
  d.pre_tokenizer = tok::make_pre_tokenizer(get("pre_tokenizer"), name + ": pre_tokenizer");
  d.post_processor = tok::make_post_processor(get("post_processor"), name + ": post_processor");
  d.decoder = tok::make_decoder(get("decoder"), name + ": decoder");

  d.vocab_size = d.model->max_id() + 1;
  const json& added = get("added_tokens");
  if (!added.is_null() && !added.is_array()) throw Error(name + ": added_tokens: expected an array");
  std::vector<tok::AddedToken> raw, norm;
  std::vector<std::string> raw_pat, norm_pat;
  for (size_t i = 0; i < added.size(); ++i) {
    tok::AddedToken a = parse_added(added[i], name + ": added_tokens[" + std::to_string(i) + "]");
    d.vocab_size = std::max(d.vocab_size, a.id + 1);
    d.added_by_id[a.id] = d.added.size();
    d.added_by_content[a.content] = a.id;
    d.added.push_back(a);
    if (a.content.empty()) continue;
    if (a.normalized && d.normalizer) {
      std::string p = a.content;
      d.normalizer->normalize(p);
      norm_pat.push_back(p);
      norm.push_back(a);
    } else {
      raw_pat.push_back(a.content);
      raw.push_back(a);
    }
  }
  if (!raw.empty()) d.raw_matcher = std::make_unique<tok::AddedTokenMatcher>(raw, raw_pat);
  if (!norm.empty()) d.normalized_matcher = std::make_unique<tok::AddedTokenMatcher>(norm, norm_pat);

  // tokenizer_config.json: bos/eos and, for Llama-style classes, add_bos_token/add_eos_token, which
  // transformers' LlamaTokenizerFast turns into the post-processor whatever tokenizer.json says.
  const fs::path dir = file.parent_path();
  const fs::path cfg_path = dir / "tokenizer_config.json";
  if (fs::exists(cfg_path, ec)) {
    const json cfg = parse_json(read_file(cfg_path), cfg_path.string());
    if (!cfg.is_object()) throw Error(cfg_path.string() + ": expected a JSON object");
    const std::string bos = config_token(cfg, "bos_token"), eos = config_token(cfg, "eos_token");
    if (!bos.empty()) d.bos = t->token_to_id(bos);
    if (!eos.empty() && t->token_to_id(eos) >= 0) d.eos.push_back(t->token_to_id(eos));
    const std::string cls = cfg.value("tokenizer_class", std::string());
    const bool llama_like = cls == "LlamaTokenizer" || cls == "LlamaTokenizerFast" || cls == "CodeLlamaTokenizer" ||
                            cls == "CodeLlamaTokenizerFast" || cls == "GemmaTokenizer" || cls == "GemmaTokenizerFast";
    if (llama_like && (cfg.contains("add_bos_token") || cfg.contains("add_eos_token"))) {
      std::vector<int32_t> pre_ids, post_ids;
      std::vector<std::string> pre_t, post_t;
      if (tok::bool_or(cfg, "add_bos_token", true) && d.bos >= 0) pre_ids.push_back(d.bos), pre_t.push_back(bos);
      if (tok::bool_or(cfg, "add_eos_token", false) && !d.eos.empty()) post_ids.push_back(d.eos[0]), post_t.push_back(eos);
      d.post_processor = tok::make_wrap_processor(pre_ids, pre_t, post_ids, post_t);
    }
  }
  const fs::path gen_path = dir / "generation_config.json";
  if (fs::exists(gen_path, ec)) {
    const json gen = parse_json(read_file(gen_path), gen_path.string());
    if (gen.is_object() && gen.contains("eos_token_id")) {
      const json& e = gen["eos_token_id"];
      std::vector<int32_t> ids;
      if (e.is_number_integer()) ids.push_back(e.get<int32_t>());
      else if (e.is_array())
        for (const auto& x : e)
          if (x.is_number_integer()) ids.push_back(x.get<int32_t>());
      for (int32_t id : ids)
        if (std::find(d.eos.begin(), d.eos.end(), id) == d.eos.end()) d.eos.push_back(id);
    }
  }
  return t;
}

void Tokenizer::Impl::encode_segment(std::string text, bool at_start, Encoding& e) const {
  if (normalizer) normalizer->normalize(text);
  std::vector<tok::Segment> subs;
  if (normalized_matcher) subs = normalized_matcher->split(text);
  else if (!text.empty()) subs.push_back({std::move(text), -1, 0});
  for (auto& sub : subs) {
    if (sub.id >= 0) {
      e.ids.push_back(sub.id);
      e.tokens.push_back(std::move(sub.text));  // the matched text, with any whitespace lstrip/rstrip took
      continue;
    }
    std::vector<tok::PreToken> pieces{{std::move(sub.text), at_start && sub.offset == 0}};
    if (pre_tokenizer) pre_tokenizer->pre_tokenize(pieces);
    for (const auto& p : pieces) {
      const size_t before = e.ids.size();
      model->tokenize(p.text, e.ids);
      for (size_t k = before; k < e.ids.size(); ++k) {
        const std::string* s = model->id_to_token(e.ids[k]);
        e.tokens.push_back(s ? *s : std::string());
      }
    }
  }
}

Encoding Tokenizer::encode_with_tokens(std::string_view text, bool add_special_tokens) const {
  const Impl& d = *m_impl;
  std::string repaired;
  if (!tok::is_valid_utf8(text)) {
    repaired = tok::sanitize_utf8(text);
    text = repaired;
  }
  Encoding e;
  if (d.raw_matcher) {
    for (auto& seg : d.raw_matcher->split(text)) {
      if (seg.id >= 0) {
        e.ids.push_back(seg.id);
        e.tokens.push_back(std::move(seg.text));
      } else {
        d.encode_segment(std::move(seg.text), seg.offset == 0, e);
      }
    }
  } else {
    d.encode_segment(std::string(text), true, e);
  }
  if (add_special_tokens && d.post_processor) d.post_processor->process(e.ids, e.tokens);
  return e;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return encode_with_tokens(text, add_special_tokens).ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  const Impl& d = *m_impl;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    const std::string* s = d.token_of(id);
    if (!s || (skip_special_tokens && is_special(id))) continue;
    tokens.push_back(*s);
  }
  std::string out;
  if (d.decoder) {
    d.decoder->decode_chain(tokens, tok::DecodeMode{});
    for (const auto& t : tokens) out += t;
  } else {
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
  }
  return tok::is_valid_utf8(out) ? out : tok::sanitize_utf8(out);
}

std::string Tokenizer::token_text(int32_t id) const {
  const std::string* s = m_impl->token_of(id);
  return s ? *s : std::string();
}

std::string Tokenizer::display_piece(int32_t id) const {
  const Impl& d = *m_impl;
  if (auto it = d.added_by_id.find(id); it != d.added_by_id.end()) return d.added[it->second].content;
  const std::string* s = d.model->id_to_token(id);
  if (!s) return {};
  std::vector<std::string> tokens{*s};
  if (d.decoder) d.decoder->decode_chain(tokens, tok::DecodeMode{true});
  std::string out;
  for (const auto& t : tokens) out += t;
  return tok::escape_invalid_utf8(out);
}

int32_t Tokenizer::token_to_id(std::string_view token) const {
  if (auto it = m_impl->added_by_content.find(token); it != m_impl->added_by_content.end()) return it->second;
  return m_impl->model->token_to_id(token);
}

int32_t Tokenizer::vocab_size() const { return m_impl->vocab_size; }
int32_t Tokenizer::bos_id() const { return m_impl->bos; }
const std::vector<int32_t>& Tokenizer::eos_ids() const { return m_impl->eos; }
bool Tokenizer::is_special(int32_t id) const {
  auto it = m_impl->added_by_id.find(id);
  return it != m_impl->added_by_id.end() && m_impl->added[it->second].special;
}
const std::string& Tokenizer::sha256() const { return m_impl->sha; }
const std::string& Tokenizer::path() const { return m_impl->path; }

}  // namespace moescope
