// BPE model (see bpe_model.h).
#include "engine/tokenizer/bpe_model.h"

#include <cstdio>
#include <queue>

#include "engine/tokenizer/utf8.h"

namespace moescope::tok {

BpeModel::BpeModel(const json& model, std::vector<std::pair<std::string, int64_t>>&& vocab,
                   std::vector<std::pair<std::string, std::string>>&& merges, const std::string& where) {
  m_vocab.reserve(vocab.size());
  int32_t max_id = -1;
  for (auto& [tok, id64] : vocab) {
    if (id64 < 0 || id64 > INT32_MAX) throw Error(where + ".vocab: id of token '" + tok + "' is not a non-negative integer");
    const auto id = static_cast<int32_t>(id64);
    max_id = std::max(max_id, id);
    m_vocab.insert_or_assign(std::move(tok), id);
  }
  vocab.clear();
  m_id_to_token.resize(static_cast<size_t>(max_id + 1));
  for (size_t k = 0; k < m_vocab.size(); ++k) m_id_to_token[static_cast<size_t>(m_vocab.ids()[k])] = m_vocab.keys()[k];

  auto opt_string = [&](const char* k) {
    auto it = model.find(k);
    return it != model.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  m_prefix = opt_string("continuing_subword_prefix");
  m_suffix = opt_string("end_of_word_suffix");
  const std::string unk = opt_string("unk_token");
  if (!unk.empty()) m_unk = token_to_id(unk);
  m_fuse_unk = bool_or(model, "fuse_unk", false);
  m_byte_fallback = bool_or(model, "byte_fallback", false);
  m_ignore_merges = bool_or(model, "ignore_merges", false);
  if (auto d = model.find("dropout"); d != model.end() && d->is_number() && d->get<double>() > 0.0)
    throw Error(where + ".dropout: BPE dropout is not supported (it makes encoding random)");
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    m_byte_ids[b] = token_to_id(name);
  }

  m_merges.reserve(merges.size());
  std::string merged;
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    const int32_t ia = token_to_id(a), ib = token_to_id(b);
    if (ia < 0 || ib < 0)
      throw Error(where + ".merges[" + std::to_string(r) + "]: token '" + (ia < 0 ? a : b) + "' is not in the vocab");
    merged.assign(a);
    const bool prefixed = !m_prefix.empty() && b.compare(0, m_prefix.size(), m_prefix) == 0;
    merged.append(b, prefixed ? m_prefix.size() : 0, std::string::npos);
    const int32_t nid = token_to_id(merged);
    if (nid < 0) throw Error(where + ".merges[" + std::to_string(r) + "]: merged token '" + merged + "' is not in the vocab");
    // A repeated pair keeps its last rank, as a Rust HashMap collected from the list does.
    m_merges.insert_or_assign(ia, ib, Merge{static_cast<uint32_t>(r), nid});
  }
}

int32_t BpeModel::token_to_id(std::string_view token) const {
  return m_vocab.find(token);
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= m_id_to_token.size()) return nullptr;
  // A hole in a sparse vocab is an empty string, which no real token is.
  const std::string& s = m_id_to_token[static_cast<size_t>(id)];
  return s.empty() ? nullptr : &s;
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (m_ignore_merges) {
    if (const int32_t id = m_vocab.find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  const bool cacheable = word.size() <= kCacheWordMax;
  if (cacheable) {
    std::shared_lock lock(m_cache_mutex);
    if (auto it = m_cache.find(word); it != m_cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t before = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::unique_lock lock(m_cache_mutex, std::try_to_lock);
    if (lock.owns_lock() && m_cache.size() < kCacheCapacity)
      m_cache.emplace(std::string(word), std::vector<int32_t>(out.begin() + static_cast<std::ptrdiff_t>(before), out.end()));
  }
}

void BpeModel::merge_word(std::string_view w, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  std::vector<Symbol> sym;
  sym.reserve(w.size());
  auto add = [&](int32_t id) {
    const auto n = static_cast<int32_t>(sym.size());
    sym.push_back({id, n - 1, n + 1, true});
  };
  int32_t unk_pending = -1;  // fused unknowns wait here until a known symbol arrives
  std::string piece;
  for (size_t i = 0; i < w.size();) {
    const size_t b = i;
    i += cp_len(static_cast<unsigned char>(w[i]));
    if (i > w.size()) i = w.size();
    std::string_view ch = w.substr(b, i - b);
    int32_t id;
    if (m_prefix.empty() && m_suffix.empty()) {
      id = token_to_id(ch);
    } else {
      piece.clear();
      if (b != 0) piece += m_prefix;
      piece += ch;
      if (i == w.size()) piece += m_suffix;
      id = token_to_id(piece);
      ch = piece;
    }
    if (id >= 0) {
      if (unk_pending >= 0) add(unk_pending), unk_pending = -1;
      add(id);
      continue;
    }
    if (m_byte_fallback) {
      bool all = true;
      for (unsigned char c : ch) all = all && m_byte_ids[c] >= 0;
      if (all) {
        for (unsigned char c : ch) add(m_byte_ids[c]);
        continue;
      }
    }
    if (m_unk < 0) continue;  // no unk token: the Rust library fails here; we drop the character
    if (unk_pending >= 0 && !m_fuse_unk) add(unk_pending);
    unk_pending = m_unk;
  }
  if (unk_pending >= 0) add(unk_pending);
  if (sym.empty()) return;
  sym.back().next = -1;

  struct Item {
    uint32_t rank;
    int32_t pos;
    int32_t new_id;
    bool operator<(const Item& o) const {  // max-heap: lowest rank, then leftmost, on top
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Item> queue;
  auto find = [&](int32_t a, int32_t b) { return m_merges.find(a, b); };
  for (size_t p = 0; p + 1 < sym.size(); ++p)
    if (const Merge* m = find(sym[p].id, sym[p + 1].id)) queue.push({m->rank, static_cast<int32_t>(p), m->new_id});
  while (!queue.empty()) {
    const Item top = queue.top();
    queue.pop();
    Symbol& cur = sym[static_cast<size_t>(top.pos)];
    if (!cur.alive || cur.next < 0) continue;
    Symbol& right = sym[static_cast<size_t>(cur.next)];
    const Merge* m = find(cur.id, right.id);
    if (!m || m->new_id != top.new_id) continue;  // stale entry
    cur.id = top.new_id;
    right.alive = false;
    cur.next = right.next;
    if (cur.next >= 0) sym[static_cast<size_t>(cur.next)].prev = top.pos;
    if (cur.prev >= 0)
      if (const Merge* pm = find(sym[static_cast<size_t>(cur.prev)].id, cur.id)) queue.push({pm->rank, cur.prev, pm->new_id});
    if (cur.next >= 0)
      if (const Merge* nm = find(cur.id, sym[static_cast<size_t>(cur.next)].id)) queue.push({nm->rank, top.pos, nm->new_id});
  }
  for (const auto& s : sym)
    if (s.alive) out.push_back(s.id);
}

}  // namespace moescope::tok
