// RunRecorder: copies routing batches into the RunData arrays (see run_recorder.h).
#include "probes/recorder/run_recorder.h"

#include <algorithm>
#include <cstring>

#include "engine/model/model_config.h"
#include "probes/live/live_snapshot.h"

namespace moescope {

void RunRecorder::begin(RunData meta, const ModelConfig* config) {
  m_data = std::move(meta);
  RunData& d = m_data;
  d.token_ids.clear();
  d.token_text.clear();
  d.is_prompt.clear();
  d.router_logits.clear();
  d.experts.clear();
  d.weights.clear();
  d.dropped.clear();
  d.next_logits.clear();
  d.step_ns.clear();
  d.step_tokens.clear();
  d.step_prefill.clear();
  d.step_first_position.clear();
  d.next_token = -1;
  d.complete = false;
  if (config) {
    d.num_experts = config->num_experts;
    d.k_max = std::max(d.k_max, config->num_experts_per_tok);
    d.moe_layers.clear();
    // Read layer_is_moe directly (same rule as ModelConfig::moe_layer_indices, no link dependency).
    for (size_t l = 0; l < config->layer_is_moe.size(); ++l)
      if (config->layer_is_moe[l]) d.moe_layers.push_back(int32_t(l));
    if (m_record_logits) d.vocab_size = config->vocab_size;
    if (d.model_config.empty()) d.model_config = config->config_text;
    if (d.family.empty()) d.family = config->model_type;
  }
  m_decoded = 0;
}

void RunRecorder::reserve(int tokens, int steps) {
  RunData& d = m_data;
  const size_t n = size_t(std::max(tokens, 0));
  const size_t m = d.moe_layers.size();
  d.token_ids.reserve(n);
  d.token_text.reserve(n);
  d.is_prompt.reserve(n);
  d.router_logits.reserve(n * m * size_t(d.num_experts));
  d.experts.reserve(n * m * size_t(d.k_max));
  d.weights.reserve(n * m * size_t(d.k_max));
  d.dropped.reserve(n * m);
  if (m_record_logits && d.vocab_size > 0) d.next_logits.reserve(n * size_t(d.vocab_size));
  d.step_ns.reserve(size_t(std::max(steps, 0)));
  d.step_tokens.reserve(size_t(std::max(steps, 0)));
  d.step_prefill.reserve(size_t(std::max(steps, 0)));
  d.step_first_position.reserve(size_t(std::max(steps, 0)));
}

RunData RunRecorder::take() {
  RunData out = std::move(m_data);
  m_data = RunData();
  m_decoded = 0;
  return out;
}

void RunRecorder::publish_now() {
  if (m_live) m_live->offer(m_data, /*force=*/true);
}

void RunRecorder::ensure_tokens(int n) {
  RunData& d = m_data;
  if (n <= d.num_tokens()) return;
  const size_t N = size_t(n), M = d.moe_layers.size();
  d.token_ids.resize(N, -1);
  d.token_text.resize(N);
  d.is_prompt.resize(N, 0);
  d.router_logits.resize(N * M * size_t(d.num_experts), 0.0f);
  d.experts.resize(N * M * size_t(d.k_max), -1);
  d.weights.resize(N * M * size_t(d.k_max), 0.0f);
  d.dropped.resize(N * M, 0);
  if (m_record_logits && d.vocab_size > 0) d.next_logits.resize(N * size_t(d.vocab_size), 0.0f);
}

// Re-pad [rows, old] to [rows, neu] in place, walking backwards so nothing is overwritten early.
template <typename T>
static void widen_rows(std::vector<T>& v, size_t rows, size_t old_w, size_t new_w, T fill) {
  v.resize(rows * new_w, fill);
  for (size_t r = rows; r-- > 0;) {
    T* dst = v.data() + r * new_w;
    const T* src = v.data() + r * old_w;
    std::memmove(dst, src, old_w * sizeof(T));
    std::fill(dst + old_w, dst + new_w, fill);
  }
}

void RunRecorder::grow_k(int k) {
  RunData& d = m_data;
  if (k <= d.k_max) return;
  const size_t rows = size_t(d.num_tokens()) * d.moe_layers.size();
  widen_rows<int32_t>(d.experts, rows, size_t(d.k_max), size_t(k), -1);
  widen_rows<float>(d.weights, rows, size_t(d.k_max), size_t(k), 0.0f);
  d.k_max = k;
}

void RunRecorder::grow_layers(int m) {
  RunData& d = m_data;
  const size_t old_m = d.moe_layers.size();
  if (size_t(m) <= old_m) return;
  const size_t N = size_t(d.num_tokens()), E = size_t(d.num_experts), K = size_t(d.k_max);
  widen_rows<float>(d.router_logits, N, old_m * E, size_t(m) * E, 0.0f);
  widen_rows<int32_t>(d.experts, N, old_m * K, size_t(m) * K, -1);
  widen_rows<float>(d.weights, N, old_m * K, size_t(m) * K, 0.0f);
  widen_rows<uint8_t>(d.dropped, N, old_m, size_t(m), 0);
  d.moe_layers.resize(size_t(m), -1);
}

void RunRecorder::on_routing(const RoutingBatch& b) {
  RunData& d = m_data;
  if (b.tokens <= 0 || !b.decision || !b.positions) return;
  if (d.num_experts == 0) {
    // E is a row width of router_logits: it can only be set before the first row exists.
    if (!d.router_logits.empty()) return;
    d.num_experts = b.num_experts;
  }
  if (b.num_experts != d.num_experts) return;  // cannot happen within one model; never corrupt rows
  if (b.moe_layer >= d.num_moe_layers()) grow_layers(b.moe_layer + 1);
  d.moe_layers[size_t(b.moe_layer)] = b.layer;
  const RoutingDecision& dec = *b.decision;
  if (dec.k_max > d.k_max) grow_k(dec.k_max);

  int max_pos = 0;
  for (int t = 0; t < b.tokens; ++t) max_pos = std::max(max_pos, b.positions[t]);
  ensure_tokens(max_pos + 1);

  const size_t M = d.moe_layers.size(), E = size_t(d.num_experts), K = size_t(d.k_max);
  const size_t dk = size_t(dec.k_max);
  for (int t = 0; t < b.tokens; ++t) {
    const int pos = b.positions[t];
    if (pos < 0) continue;
    const size_t row = size_t(pos) * M + size_t(b.moe_layer);
    if (b.logits) std::memcpy(d.router_logits.data() + row * E, b.logits + size_t(t) * E, E * sizeof(float));
    int32_t* ex = d.experts.data() + row * K;
    float* w = d.weights.data() + row * K;
    if (dk) {
      std::memcpy(ex, dec.experts.data() + size_t(t) * dk, dk * sizeof(int32_t));
      std::memcpy(w, dec.weights.data() + size_t(t) * dk, dk * sizeof(float));
    }
    std::fill(ex + dk, ex + K, -1);
    std::fill(w + dk, w + K, 0.0f);
    d.dropped[row] = size_t(t) < dec.dropped.size() ? dec.dropped[size_t(t)] : 0;
    if (b.token_ids) d.token_ids[size_t(pos)] = b.token_ids[t];
  }
}

void RunRecorder::on_logits(int first_position, int rows, int vocab, const float* logits) {
  if (!m_record_logits || rows <= 0 || vocab <= 0 || !logits) return;
  RunData& d = m_data;
  if (d.vocab_size != vocab) {
    // V fixes the row width; it can only change while no logits are stored.
    if (!d.next_logits.empty() && d.vocab_size != 0) return;
    d.vocab_size = vocab;
  }
  ensure_tokens(first_position + rows);
  d.next_logits.resize(size_t(d.num_tokens()) * size_t(vocab), 0.0f);
  std::memcpy(d.next_logits.data() + size_t(first_position) * vocab, logits, size_t(rows) * vocab * sizeof(float));
}

void RunRecorder::on_step(const StepInfo& s) {
  RunData& d = m_data;
  ensure_tokens(s.first_position + s.num_tokens);
  for (int p = s.first_position; p < s.first_position + s.num_tokens; ++p)
    d.is_prompt[size_t(p)] = m_prompt_length >= 0 ? uint8_t(p < m_prompt_length) : uint8_t(s.prefill);
  if (m_decoder) {
    for (; m_decoded < d.num_tokens(); ++m_decoded) {
      const int64_t id = d.token_ids[size_t(m_decoded)];
      if (id >= 0) d.token_text[size_t(m_decoded)] = m_decoder(int32_t(id));
    }
  }
  d.step_ns.push_back(s.wall_ns);
  d.step_tokens.push_back(s.num_tokens);
  d.step_prefill.push_back(uint8_t(s.prefill));
  d.step_first_position.push_back(s.first_position);
  d.next_token = s.next_token;
  if (m_live) m_live->offer(d);
}

void RunRecorder::on_rewind(int position) {
  RunData& d = m_data;
  position = std::max(position, 0);
  if (position < d.num_tokens()) {
    const size_t N = size_t(position), M = d.moe_layers.size();
    d.token_ids.resize(N);
    d.token_text.resize(N);
    d.is_prompt.resize(N);
    d.router_logits.resize(N * M * size_t(d.num_experts));
    d.experts.resize(N * M * size_t(d.k_max));
    d.weights.resize(N * M * size_t(d.k_max));
    d.dropped.resize(N * M);
    if (d.vocab_size > 0 && !d.next_logits.empty()) d.next_logits.resize(N * size_t(d.vocab_size));
  }
  m_decoded = std::min(m_decoded, position);
  // Steps that started at or after the cut are undone; their wall time no longer describes the run.
  while (!d.step_first_position.empty() && d.step_first_position.back() >= position) {
    d.step_ns.pop_back();
    d.step_tokens.pop_back();
    d.step_prefill.pop_back();
    d.step_first_position.pop_back();
  }
  d.next_token = -1;
}

}  // namespace moescope
