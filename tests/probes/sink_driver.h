// Drives a ProbeSink the way a Session does (routing per MoE layer, then on_step), with routing values
// that are a known function of (position, layer), so tests can check what a sink stored.
#pragma once
#include <string>
#include <vector>

#include "engine/probe/probe_sink.h"

namespace moescope::test {

struct SinkDriver {
  int E = 4;
  int M = 2;
  int k = 2;
  int vocab = 0;           // > 0: also deliver next-token logits (when the sink wants them)
  int64_t step_index = 0;

  static float logit(int pos, int l, int e) { return float(1000 * pos + 10 * l + e); }
  static int expert(int pos, int l, int j, int E) { return (pos * 7 + l * 3 + j) % E; }
  static float weight(int pos, int j) { return 1.0f / float(j + 1) + float(pos) * 1e-3f; }
  static int64_t token(int pos) { return 100 + pos % 13; }
  static float next_logit(int pos, int v) { return float(pos) - 0.5f * float(v); }

  // Processes positions [first, first + n) as one step.
  void step(ProbeSink& sink, int first, int n, bool prefill) {
    std::vector<int32_t> pos(static_cast<size_t>(n)), ids(static_cast<size_t>(n));
    for (int t = 0; t < n; ++t) {
      pos[size_t(t)] = first + t;
      ids[size_t(t)] = int32_t(token(first + t));
    }
    for (int l = 0; l < M; ++l) {
      std::vector<float> logits(size_t(n) * E);
      RoutingDecision dec;
      dec.reset(n, k);
      for (int t = 0; t < n; ++t) {
        const int p = first + t;
        for (int e = 0; e < E; ++e) logits[size_t(t) * E + e] = logit(p, l, e);
        for (int j = 0; j < k; ++j) {
          dec.experts[size_t(t) * k + j] = expert(p, l, j, E);
          dec.weights[size_t(t) * k + j] = weight(p, j);
        }
        dec.dropped[size_t(t)] = (p % 5 == 4);
      }
      RoutingBatch b;
      b.layer = 2 * l + 1;
      b.moe_layer = l;
      b.tokens = n;
      b.num_experts = E;
      b.positions = pos.data();
      b.token_ids = ids.data();
      b.logits = logits.data();
      b.decision = &dec;
      sink.on_routing(b);
    }
    if (vocab > 0 && sink.wants_all_logits()) {
      std::vector<float> nl(size_t(n) * vocab);
      for (int t = 0; t < n; ++t)
        for (int v = 0; v < vocab; ++v) nl[size_t(t) * vocab + v] = next_logit(first + t, v);
      sink.on_logits(first, n, vocab, nl.data());
    }
    StepInfo s;
    s.step_index = step_index++;
    s.first_position = first;
    s.num_tokens = n;
    s.prefill = prefill;
    s.wall_ns = 1000 + first;
    s.next_token = int32_t(token(first + n));
    sink.on_step(s);
  }
};

}  // namespace moescope::test
