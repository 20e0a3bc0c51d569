// make_strategy(): parse a routing spec such as "topk:1+mask:3.5" into a ComposedStrategy, validating
// it against the model. Grammar (docs/strategies.md): PART('+'PART)*, PART = NAME(':'ARG)*.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

#include "engine/model/model_config.h"
#include "engine/routing/compose.h"
#include "engine/routing/strategy.h"
#include "engine/util/error.h"

namespace moescope {

bool parse_int(const std::string& s, long long& out) {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto r = std::from_chars(s.data(), end, out);
  return r.ec == std::errc() && r.ptr == end;
}

bool parse_double(const std::string& s, double& out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(out);
}

std::string format_number(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return parts;
}

class SpecParser {
 public:
  SpecParser(const std::string& spec, const ModelConfig& cfg) : m_spec(spec), m_cfg(cfg) {
    const int L = cfg.num_layers;
    for (int l = 0; l < L; ++l) {
      const bool moe = cfg.layer_is_moe.empty() || (l < int(cfg.layer_is_moe.size()) && cfg.layer_is_moe[l]);
      m_moe_index.push_back(moe ? m_num_moe++ : -1);
    }
  }

  [[noreturn]] void fail(const std::string& part, const std::string& why) const {
    std::string msg = "routing strategy '" + m_spec + "': ";
    if (!part.empty() && part != m_spec) msg += "'" + part + "': ";
    throw Error(msg + why);
  }

  std::unique_ptr<RoutingStrategy> parse() {
    const int E = m_cfg.num_experts;
    if (E <= 0) fail("", "the model has no routed experts");
    if (m_spec.empty()) fail("", "empty spec (try 'native')");
    auto config = std::make_shared<const ModelConfig>(m_cfg);
    const ModelConfig& cfg = *config;
    std::unique_ptr<Selection> selection;
    std::string selection_part;
    std::unique_ptr<CapacityLimit> capacity;
    std::string capacity_part;
    CapacityOptions capacity_opts;
    bool no_shared = false;
    ExpertMask mask;
    std::vector<std::string> mask_entries;

    for (const std::string& part : split(m_spec, '+')) {
      if (part.empty()) fail("", "empty part between '+' signs");
      const std::vector<std::string> f = split(part, ':');
      const std::string& name = f[0];
      const size_t nargs = f.size() - 1;
      auto want_args = [&](size_t lo, size_t hi, const char* usage) {
        if (nargs < lo || nargs > hi) fail(part, std::string("expected ") + usage);
      };
      auto set_selection = [&](std::unique_ptr<Selection> s) {
        if (selection) fail(part, "combines two selection strategies ('" + selection_part + "' and '" + part +
                                      "'); use one of native, topk, topp, expert-choice, random, hash");
        selection = std::move(s);
        selection_part = part;
      };
      if (name == "native") {
        want_args(0, 0, "'native' without arguments");
        set_selection(make_native_selection(cfg));
      } else if (name == "topk") {
        want_args(1, 1, "'topk:K'");
        long long k = 0;
        if (!parse_int(f[1], k)) fail(part, "K must be an integer, got '" + f[1] + "'");
        if (k < 1 || k > E)
          fail(part, "K=" + f[1] + " is outside 1.." + std::to_string(E) + " (the model has " + std::to_string(E) +
                         " experts per MoE layer)");
        set_selection(make_topk_selection(cfg, int(k)));
      } else if (name == "topp") {
        want_args(1, 1, "'topp:P' with 0 < P <= 1");
        double p = 0;
        if (!parse_double(f[1], p)) fail(part, "P must be a number, got '" + f[1] + "'");
        if (!(p > 0.0 && p <= 1.0)) fail(part, "P=" + f[1] + " is outside (0, 1]");
        set_selection(make_topp_selection(cfg, p));
      } else if (name == "capacity" || name == "expert-choice") {
        const bool ec = name == "expert-choice";
        if (ec) want_args(1, 2, "'expert-choice:CF[:W]'");
        else want_args(1, 3, "'capacity:CF[:overflow|:end][:W]'");
        CapacityOptions opts;
        if (!parse_double(f[1], opts.factor)) fail(part, "capacity factor must be a number, got '" + f[1] + "'");
        if (!(opts.factor > 0.0)) fail(part, "capacity factor must be > 0, got '" + f[1] + "'");
        size_t next = 2;
        if (!ec && nargs >= 2) {
          if (f[2] == "end") opts.drop_end = true;
          else if (f[2] != "overflow") fail(part, "drop policy must be 'overflow' or 'end', got '" + f[2] + "'");
          next = 3;
        }
        if (nargs >= next) {
          long long w = 0;
          if (!parse_int(f[next], w) || w < 1 || w > (1 << 24))
            fail(part, "window W must be a positive integer, got '" + f[next] + "'");
          opts.window = int(w);
        }
        if (ec) {
          set_selection(make_expert_choice_selection(cfg, opts));
        } else {
          if (!capacity_part.empty()) fail(part, "capacity given twice ('" + capacity_part + "')");
          capacity_part = part;
          capacity_opts = opts;
        }
      } else if (name == "random") {
        want_args(0, 2, "'random:SEED[:softmax]'");
        long long seed = 0;
        if (nargs >= 1 && (!parse_int(f[1], seed) || seed < 0))
          fail(part, "SEED must be a non-negative integer, got '" + f[1] + "'");
        if (nargs == 2 && f[2] != "softmax") fail(part, "the only weight option is 'softmax', got '" + f[2] + "'");
        set_selection(make_random_selection(cfg, uint64_t(seed), nargs == 2));
      } else if (name == "hash") {
        want_args(0, 1, "'hash' or 'hash:K'");
        long long k = cfg.num_experts_per_tok;
        if (nargs == 1 && (!parse_int(f[1], k) || k < 1 || k > E))
          fail(part, "K must be an integer in 1.." + std::to_string(E) + ", got '" + f[1] + "'");
        set_selection(make_hash_selection(cfg, int(k)));
      } else if (name == "mask") {
        want_args(1, 1, "'mask:L.E[,L.E...]' (L a layer index or '*')");
        parse_mask(part, f[1], mask, mask_entries);
      } else if (name == "no-shared") {
        want_args(0, 0, "'no-shared' without arguments");
        if (cfg.num_shared_experts <= 0 && cfg.shared_intermediate_size <= 0)
          fail(part, "the model (" + cfg.model_type + ") has no shared expert");
        if (no_shared) fail(part, "given twice");
        no_shared = true;
      } else {
        fail(part, "unknown strategy '" + name +
                       "' (known: native, topk:K, topp:P, capacity:CF, expert-choice:CF, random:SEED, hash, "
                       "mask:L.E, no-shared)");
      }
    }
    if (!selection) selection = make_native_selection(cfg);
    if (!capacity_part.empty()) {
      if (selection_part.rfind("expert-choice", 0) == 0)
        fail(capacity_part, "expert-choice already fixes each expert's load; it cannot be combined with capacity");
      capacity = std::make_unique<CapacityLimit>(cfg, capacity_opts, selection->nominal_k());
    }
    // every MoE layer must keep enough experts for the selection
    for (int l = 0; l < m_num_moe; ++l) {
      const int left = E - mask.count(l);
      if (left >= selection->min_unmasked()) continue;
      const int layer = layer_of(l);
      if (left == 0) fail("", "masks every expert of layer " + std::to_string(layer));
      fail("", "leaves " + std::to_string(left) + " unmasked expert(s) at layer " + std::to_string(layer) + " but '" +
                   selection->spec() + "' needs " + std::to_string(selection->min_unmasked()));
    }
    std::string mask_spec;
    if (!mask_entries.empty()) {
      mask_spec = "mask:";
      for (size_t i = 0; i < mask_entries.size(); ++i) mask_spec += (i ? "," : "") + mask_entries[i];
    }
    return std::make_unique<ComposedStrategy>(config, std::move(selection), std::move(mask), mask_spec,
                                              std::move(capacity), no_shared);
  }

 private:
  int layer_of(int moe_index) const {
    for (size_t l = 0; l < m_moe_index.size(); ++l)
      if (m_moe_index[l] == moe_index) return int(l);
    return -1;
  }

  void parse_mask(const std::string& part, const std::string& list, ExpertMask& mask,
                  std::vector<std::string>& entries) {
    const int E = m_cfg.num_experts;
    if (mask.disabled.empty()) mask.disabled.assign(m_num_moe, std::vector<uint8_t>());
    for (const std::string& entry : split(list, ',')) {
      const size_t dot = entry.find('.');
      if (dot == std::string::npos)
        fail(part, "mask entry '" + entry + "' is not LAYER.EXPERT (e.g. 3.5, or *.5 for every MoE layer)");
      const std::string ls = entry.substr(0, dot), es = entry.substr(dot + 1);
      long long e = 0;
      if (!parse_int(es, e)) fail(part, "mask entry '" + entry + "': expert '" + es + "' is not an integer");
      if (e < 0 || e >= E)
        fail(part, "mask entry '" + entry + "': expert " + es + " does not exist (the model has experts 0.." +
                       std::to_string(E - 1) + ")");
      std::vector<int> moe_layers;
      if (ls == "*") {
        for (int l = 0; l < m_num_moe; ++l) moe_layers.push_back(l);
      } else {
        long long layer = 0;
        if (!parse_int(ls, layer)) fail(part, "mask entry '" + entry + "': layer '" + ls + "' is not an integer or '*'");
        if (layer < 0 || layer >= int(m_moe_index.size()))
          fail(part, "mask entry '" + entry + "': layer " + ls + " does not exist (the model has layers 0.." +
                         std::to_string(int(m_moe_index.size()) - 1) + ")");
        if (m_moe_index[layer] < 0)
          fail(part, "mask entry '" + entry + "': layer " + ls + " is a dense layer (no router)");
        moe_layers.push_back(m_moe_index[layer]);
      }
      for (int l : moe_layers) {
        if (mask.disabled[l].empty()) mask.disabled[l].assign(E, 0);
        mask.disabled[l][e] = 1;
      }
      entries.push_back(ls + "." + std::to_string(e));
    }
  }

  const std::string& m_spec;
  const ModelConfig& m_cfg;
  std::vector<int> m_moe_index;  // model layer -> MoE layer index (-1 dense)
  int m_num_moe = 0;
};

}  // namespace

std::unique_ptr<RoutingStrategy> make_strategy(const std::string& spec, const ModelConfig& config) {
  return SpecParser(spec, config).parse();
}

}  // namespace moescope
