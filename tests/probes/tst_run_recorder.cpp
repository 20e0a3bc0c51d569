// RunRecorder: routing batches land at [position, moe_layer]; rewind truncates; K growth re-pads;
// logits and token text are recorded; live snapshots are offered.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/model/model_config.h"
#include "probes/live/live_snapshot.h"
#include "probes/recorder/run_recorder.h"

using namespace moescope;

namespace {

// Feeds one MoE layer for tokens at `positions`: logits[t][e] = 1000*pos + 10*layer + e, experts
// {(pos + layer + j) % E for j < k}, weights 1/(j+1), dropped when pos == drop_pos.
struct Feeder {
  int E = 4;
  int drop_pos = -1;
  void layer(RunRecorder& rec, int moe_layer, int model_layer, const std::vector<int>& positions, int k,
             const std::vector<int>& ids) {
    const int T = int(positions.size());
    std::vector<float> logits(size_t(T) * E);
    RoutingDecision dec;
    dec.reset(T, k);
    for (int t = 0; t < T; ++t) {
      const int p = positions[size_t(t)];
      for (int e = 0; e < E; ++e) logits[size_t(t) * E + e] = float(1000 * p + 10 * moe_layer + e);
      for (int j = 0; j < k; ++j) {
        dec.experts[size_t(t) * k + j] = (p + moe_layer + j) % E;
        dec.weights[size_t(t) * k + j] = 1.0f / float(j + 1);
      }
      dec.dropped[size_t(t)] = p == drop_pos;
    }
    RoutingBatch b;
    b.layer = model_layer;
    b.moe_layer = moe_layer;
    b.tokens = T;
    b.num_experts = E;
    b.positions = positions.data();
    b.token_ids = ids.data();
    b.logits = logits.data();
    b.decision = &dec;
    rec.on_routing(b);
  }
};

StepInfo step(int index, int first, int n, bool prefill, int64_t ns, int32_t next) {
  StepInfo s;
  s.step_index = index;
  s.first_position = first;
  s.num_tokens = n;
  s.prefill = prefill;
  s.wall_ns = ns;
  s.next_token = next;
  return s;
}

void expect_row(const RunData& d, int pos, int l, int k, int E) {
  for (int e = 0; e < E; ++e) EXPECT_EQ(d.logits_at(pos, l)[e], float(1000 * pos + 10 * l + e)) << pos << "," << l;
  for (int j = 0; j < d.k_max; ++j) {
    if (j < k) {
      EXPECT_EQ(d.experts_at(pos, l)[j], (pos + l + j) % E);
      EXPECT_FLOAT_EQ(d.weights_at(pos, l)[j], 1.0f / float(j + 1));
    } else {
      EXPECT_EQ(d.experts_at(pos, l)[j], -1);
      EXPECT_EQ(d.weights_at(pos, l)[j], 0.0f);
    }
  }
}

}  // namespace

TEST(RunRecorder, PrefillThenDecodeLayout) {
  RunRecorder rec;
  RunData meta;
  meta.model = "m";
  rec.begin(meta);
  rec.reserve(16, 8);
  rec.set_decoder([](int32_t id) { return "<" + std::to_string(id) + ">"; });
  Feeder f;
  f.drop_pos = 1;
  // prefill 3 tokens through MoE layers 0 and 1 (model layers 1 and 3)
  f.layer(rec, 0, 1, {0, 1, 2}, 2, {7, 8, 9});
  f.layer(rec, 1, 3, {0, 1, 2}, 2, {7, 8, 9});
  rec.on_step(step(0, 0, 3, true, 500, 11));
  f.layer(rec, 0, 1, {3}, 2, {11});
  f.layer(rec, 1, 3, {3}, 2, {11});
  rec.on_step(step(1, 3, 1, false, 100, 12));

  const RunData& d = rec.data();
  ASSERT_EQ(d.num_tokens(), 4);
  EXPECT_EQ(d.moe_layers, (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(d.num_experts, 4);
  EXPECT_EQ(d.k_max, 2);
  EXPECT_EQ(d.token_ids, (std::vector<int64_t>{7, 8, 9, 11}));
  EXPECT_EQ(d.token_text, (std::vector<std::string>{"<7>", "<8>", "<9>", "<11>"}));
  EXPECT_EQ(d.is_prompt, (std::vector<uint8_t>{1, 1, 1, 0}));
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 2; ++l) expect_row(d, p, l, 2, 4);
  EXPECT_TRUE(d.dropped_at(1, 0));
  EXPECT_TRUE(d.dropped_at(1, 1));
  EXPECT_FALSE(d.dropped_at(0, 0));
  EXPECT_EQ(d.step_ns, (std::vector<int64_t>{500, 100}));
  EXPECT_EQ(d.step_tokens, (std::vector<int32_t>{3, 1}));
  EXPECT_EQ(d.step_prefill, (std::vector<uint8_t>{1, 0}));
  EXPECT_EQ(d.step_first_position, (std::vector<int32_t>{0, 3}));
  EXPECT_EQ(d.next_token, 12);
}

TEST(RunRecorder, ShapesFromConfig) {
  ModelConfig cfg;
  cfg.num_experts = 8;
  cfg.num_experts_per_tok = 2;
  cfg.vocab_size = 5;
  cfg.layer_is_moe = {false, true, true, false, true};
  cfg.model_type = "mixtral";
  cfg.config_text = "{}";
  RunRecorder rec(true);
  rec.begin(RunData(), &cfg);
  EXPECT_EQ(rec.data().moe_layers, (std::vector<int32_t>{1, 2, 4}));
  EXPECT_EQ(rec.data().num_experts, 8);
  EXPECT_EQ(rec.data().k_max, 2);
  EXPECT_EQ(rec.data().vocab_size, 5);
  EXPECT_EQ(rec.data().family, "mixtral");
  EXPECT_TRUE(rec.wants_all_logits());
}

TEST(RunRecorder, KGrowthRepadsEarlierRows) {
  RunRecorder rec;
  rec.begin(RunData());
  Feeder f;
  f.layer(rec, 0, 0, {0, 1}, 1, {5, 6});
  f.layer(rec, 1, 1, {0, 1}, 1, {5, 6});
  rec.on_step(step(0, 0, 2, true, 1, 3));
  ASSERT_EQ(rec.data().k_max, 1);
  f.layer(rec, 0, 0, {2}, 3, {3});  // a strategy that now picks 3 experts
  f.layer(rec, 1, 1, {2}, 3, {3});
  rec.on_step(step(1, 2, 1, false, 1, 4));
  const RunData& d = rec.data();
  ASSERT_EQ(d.k_max, 3);
  ASSERT_EQ(d.experts.size(), size_t(3 * 2 * 3));
  for (int p = 0; p < 2; ++p)
    for (int l = 0; l < 2; ++l) expect_row(d, p, l, 1, 4);
  for (int l = 0; l < 2; ++l) expect_row(d, 2, l, 3, 4);
}

TEST(RunRecorder, LayersDiscoveredWithoutConfig) {
  RunRecorder rec;
  rec.begin(RunData());
  Feeder f;
  f.layer(rec, 0, 2, {0}, 2, {1});  // only layer 0 seen: M = 1
  f.layer(rec, 1, 5, {0}, 2, {1});  // now M = 2: row 0 re-laid out
  rec.on_step(step(0, 0, 1, true, 1, 2));
  EXPECT_EQ(rec.data().moe_layers, (std::vector<int32_t>{2, 5}));
  expect_row(rec.data(), 0, 0, 2, 4);
  expect_row(rec.data(), 0, 1, 2, 4);
}

TEST(RunRecorder, RewindTruncatesTokensAndSteps) {
  RunRecorder rec(true);
  rec.begin(RunData());
  rec.set_prompt_length(2);
  rec.set_decoder([](int32_t id) { return std::to_string(id); });
  Feeder f;
  std::vector<float> logits(3 * 2);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = float(i);
  f.layer(rec, 0, 0, {0, 1}, 2, {10, 11});
  rec.on_logits(0, 2, 3, logits.data());
  rec.on_step(step(0, 0, 2, true, 1, 12));
  f.layer(rec, 0, 0, {2}, 2, {12});
  rec.on_logits(2, 1, 3, logits.data());
  rec.on_step(step(1, 2, 1, false, 2, 13));
  f.layer(rec, 0, 0, {3}, 2, {13});
  rec.on_logits(3, 1, 3, logits.data() + 3);
  rec.on_step(step(2, 3, 1, false, 3, 14));
  ASSERT_EQ(rec.data().num_tokens(), 4);
  ASSERT_EQ(rec.data().next_logits.size(), size_t(12));

  rec.on_rewind(3);
  EXPECT_EQ(rec.data().num_tokens(), 3);
  EXPECT_EQ(rec.data().next_logits.size(), size_t(9));
  EXPECT_EQ(rec.data().step_ns, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(rec.data().experts.size(), size_t(3 * 1 * 2));
  // the recomputed position 3 gets a new token and text
  f.layer(rec, 0, 0, {3}, 2, {99});
  rec.on_logits(3, 1, 3, logits.data());
  rec.on_step(step(2, 3, 1, false, 4, 15));
  const RunData& d = rec.data();
  EXPECT_EQ(d.token_ids, (std::vector<int64_t>{10, 11, 12, 99}));
  EXPECT_EQ(d.token_text[3], "99");
  EXPECT_EQ(d.is_prompt, (std::vector<uint8_t>{1, 1, 0, 0}));
  EXPECT_EQ(d.step_ns, (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(d.vocab_size, 3);
  const std::vector<float> want_logits = {0, 1, 2, 3, 4, 5, 0, 1, 2, 0, 1, 2};
  EXPECT_EQ(d.next_logits, want_logits);
  EXPECT_TRUE(d.has_next_logits());
}

TEST(RunRecorder, LogitsIgnoredUnlessRequested) {
  RunRecorder rec;
  rec.begin(RunData());
  std::vector<float> logits(6, 1.0f);
  rec.on_logits(0, 2, 3, logits.data());
  EXPECT_TRUE(rec.data().next_logits.empty());
  EXPECT_FALSE(rec.wants_all_logits());
}

TEST(RunRecorder, OffersLiveSnapshots) {
  LiveSnapshot live(std::chrono::milliseconds(0));  // publish every step
  RunRecorder rec;
  rec.begin(RunData());
  rec.set_live(&live);
  Feeder f;
  f.layer(rec, 0, 0, {0}, 2, {1});
  rec.on_step(step(0, 0, 1, true, 1, 2));
  RunSnapshot s1 = live.latest();
  ASSERT_TRUE(s1);
  EXPECT_EQ(s1->num_tokens(), 1);
  f.layer(rec, 0, 0, {1}, 2, {2});
  rec.on_step(step(1, 1, 1, false, 1, 3));
  EXPECT_EQ(s1->num_tokens(), 1);  // an earlier snapshot never changes
  EXPECT_EQ(live.latest()->num_tokens(), 2);
  EXPECT_EQ(live.generation(), 2u);
}
