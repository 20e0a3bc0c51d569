// Drift view: flow (Sankey) layout and drift series against hand-computed values, the view's transition
// heatmap and entropy against a hand tally on a synthetic run, and offscreen renders on the demo
// checkpoint (a python + prose + csv text, so the load visibly drifts along the sequence).
#include <QAreaSeries>
#include <QChart>
#include <QChartView>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>

#include "engine/session/session.h"
#include "engine/tokenizer/tokenizer.h"
#include "probes/recorder/run_recorder.h"
#include "probes/trace/trace_file.h"
#include "probes/trace/trace_reader.h"
#include "views/drift_matrix_heatmap.h"
#include "views/drift_series.h"
#include "views/drift_view.h"
#include "views/flow_layout.h"
#include "views/flow_view.h"

using namespace moescope;
using namespace moescope::views;

namespace {
const QString kDemo = QStringLiteral(MOESCOPE_DATASETS_DIR "/moescope-demo-mixtral");

// One layer per entry of `layers`: layers[l][t] = top-1 expert of token t (K = 1).
std::shared_ptr<RunData> make_run(const std::vector<std::vector<int>>& layers, int E) {
  auto r = std::make_shared<RunData>();
  r->family = "mixtral";
  r->num_experts = E;
  r->k_max = 1;
  const int M = int(layers.size()), N = int(layers[0].size());
  for (int l = 0; l < M; ++l) r->moe_layers.push_back(l);
  for (int t = 0; t < N; ++t) {
    r->token_ids.push_back(t % 3);
    r->token_text.push_back("t");
    r->is_prompt.push_back(1);
    for (int l = 0; l < M; ++l) {
      for (int e = 0; e < E; ++e) r->router_logits.push_back(0.f);
      r->experts.push_back(layers[size_t(l)][size_t(t)]);
      r->weights.push_back(1.f);
      r->dropped.push_back(0);
    }
  }
  return r;
}

QStringList demo_prompts(const QString& domain) {
  QFile f(QStringLiteral(MOESCOPE_DATASETS_DIR "/prompts/demo-domains.jsonl"));
  if (!f.open(QIODevice::ReadOnly)) return {};
  QStringList out;
  for (const QByteArray& line : f.readAll().split('\n')) {
    const QJsonObject o = QJsonDocument::fromJson(line).object();
    if (o.value(QStringLiteral("domain")).toString() == domain) out << o.value(QStringLiteral("text")).toString();
  }
  return out;
}

RunSnapshot demo_run(const std::string& text, int new_tokens) {
  SessionOptions opts;
  opts.threads = 2;
  auto s = Session::open(kDemo.toStdString(), opts);
  s->set_prompt_text(text);
  RunRecorder rec;
  RunData meta;
  meta.family = "mixtral";
  meta.model_config = s->model().config().config_text;
  rec.begin(meta, &s->model().config());
  rec.set_prompt_length(s->prompt_length());
  auto tok = s->tokenizer_ptr();
  rec.set_decoder([tok](int32_t id) { return tok->display_piece(id); });
  s->add_sink(&rec);
  s->prefill();
  if (new_tokens > 0) s->run(new_tokens, false);
  s->remove_sink(&rec);
  return std::make_shared<const RunData>(rec.take());
}

void save(QWidget& w, const QString& name) {
  QDir().mkpath(QStringLiteral(MOESCOPE_SCREENSHOT_DIR));
  QVERIFY(w.grab().save(QStringLiteral(MOESCOPE_SCREENSHOT_DIR "/") + name));
}
}  // namespace

class TestDriftView : public QObject {
  Q_OBJECT
 private slots:
  void flowLayoutByHand() {
    // Column 0: E0 has 2 tokens, E2 has 1; column 1: all 3 on E1. Transitions 0->1 (2), 2->1 (1).
    const std::vector<std::vector<int64_t>> loads = {{2, 0, 1}, {0, 3, 0}};
    std::vector<int64_t> t(9, 0);
    t[0 * 3 + 1] = 2;
    t[2 * 3 + 1] = 1;
    // height 100, gap 5: scale = (100 - 2 * 5) / 3 = 30 per token.
    FlowLayout f = layout_flow(loads, {t}, 3, 100.0, 5.0, 10);
    QCOMPARE(f.columns, 2);
    QCOMPARE(int(f.nodes.size()), 3);
    const FlowNode* e0 = f.node(0, 0);
    const FlowNode* e2 = f.node(0, 2);
    const FlowNode* e1 = f.node(1, 1);
    QVERIFY(e0 && e2 && e1 && !f.node(0, 1));
    QCOMPARE(e0->y, 0.0);
    QCOMPARE(e0->height, 60.0);
    QCOMPARE(e2->y, 65.0);  // 60 + gap
    QCOMPARE(e2->height, 30.0);
    QCOMPARE(e1->height, 90.0);
    QCOMPARE(int(f.bands.size()), 2);
    QCOMPARE(f.bands[0].from, 0);  // largest first
    QCOMPARE(f.bands[0].thickness, 60.0);
    QCOMPARE(f.bands[0].y_from, 0.0);
    QCOMPARE(f.bands[0].y_to, 0.0);
    QCOMPARE(f.bands[1].y_from, 65.0);
    QCOMPARE(f.bands[1].y_to, 60.0);  // stacked under the band from E0 at the target
    QCOMPARE(f.shown_fraction[0], 1.0);
    // Only the largest band: 2 of 3 transitions shown.
    f = layout_flow(loads, {t}, 3, 100.0, 5.0, 1);
    QCOMPARE(int(f.bands.size()), 1);
    QVERIFY(std::abs(f.shown_fraction[0] - 2.0 / 3.0) < 1e-12);
  }

  void flowLayoutFromRun() {
    // Layer 0 top-1: [0, 0, 2]; layer 1: [1, 1, 1] -> the same numbers as above.
    auto r = make_run({{0, 0, 2}, {1, 1, 1}}, 3);
    const FlowLayout f = layout_flow(*r, 100.0, 5.0, 10);
    QCOMPARE(f.node(0, 0)->load, int64_t(2));
    QCOMPARE(f.node(0, 2)->load, int64_t(1));
    QCOMPARE(f.node(1, 1)->load, int64_t(3));
    QCOMPARE(int(f.bands.size()), 2);
    QCOMPARE(f.bands[0].count, int64_t(2));
  }

  void seriesByHand() {
    const std::vector<double> n = row_normalise({1, 3, 0, 0}, 2);
    QCOMPARE(n, (std::vector<double>{0.25, 0.75, 0.0, 0.0}));
    auto r = make_run({{0, 0, 1, 1, 1}}, 2);
    const auto w = windowed_load(*r, 0, 2);  // windows [0,2), [2,4), [4,5)
    QCOMPARE(int(w.size()), 3);
    QCOMPARE(w[0], (std::vector<double>{1.0, 0.0}));
    QCOMPARE(w[1], (std::vector<double>{0.0, 1.0}));
    QCOMPARE(w[2], (std::vector<double>{0.0, 1.0}));
    QCOMPARE(window_for(100, 12), 9);
    QCOMPARE(window_for(5, 12), 1);
  }

  void heatmapShowsRowNormalisedTransitions() {
    // Layer 0 -> 1: E0 -> E0 twice, E0 -> E1 twice, E1 -> E1 once.
    // Rows: E0 = [0.5, 0.5], E1 = [0, 1]. H(B|A) = 4/5 * ln 2 + 1/5 * 0 = 0.5545 nats.
    auto r = make_run({{0, 0, 0, 0, 1}, {0, 0, 1, 1, 1}}, 2);
    DriftView view;
    view.resize(1100, 700);
    view.setSnapshot(r);
    const MatrixSpec& s = view.transitionHeatmap()->spec();
    QCOMPARE(s.rows, 2);
    QCOMPARE(s.values, (std::vector<double>{0.5, 0.5, 0.0, 1.0}));
    QVERIFY2(s.subtitle.contains(QStringLiteral("0.555")), qPrintable(s.subtitle));
    QVERIFY(s.title.contains(QStringLiteral("layer 0 \u2192 layer 1")));
    // Stacked area: one area per expert; the JS chart has one line per layer.
    QCOMPARE(view.loadChart()->chart()->series().size(), 2);
    view.setTop1Only(false);  // K = 1: the same counts
    QCOMPARE(view.transitionHeatmap()->spec().values, (std::vector<double>{0.5, 0.5, 0.0, 1.0}));
    view.setLayerPair(7);  // out of range: clamped to the last pair
    QCOMPARE(view.layerPair(), 0);
    view.setLoadLayer(-3);
    QCOMPARE(view.loadLayer(), 0);
    view.setSnapshot(nullptr);
    QCOMPARE(view.transitionHeatmap()->spec().rows, 0);
  }

  void demoScreenshots() {
    const QStringList py = demo_prompts(QStringLiteral("python")), prose = demo_prompts(QStringLiteral("prose")),
                      csv = demo_prompts(QStringLiteral("csv"));
    QVERIFY(!py.isEmpty() && !prose.isEmpty() && !csv.isEmpty());
    const std::string text = (py[0] + QStringLiteral("\n\n") + prose[0] + QStringLiteral("\n\n") + csv[0]).toStdString();
    const RunSnapshot run = demo_run(text, 16);
    QVERIFY(run->num_tokens() > 60);
    QCOMPARE(run->num_moe_layers(), 6);
    DriftView view;
    view.resize(1500, 720);
    view.setSnapshot(run);
    view.setLayerPair(4);
    view.setLoadLayer(5);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.tabs()->setCurrentIndex(0);
    QTest::qWait(50);
    save(view, QStringLiteral("drift_across_layers.png"));
    // The same run saved as a trace and read back gives the same pictures.
    QTemporaryDir dir;
    const std::string path = dir.filePath(QStringLiteral("t.h5")).toStdString();
    {
      auto f = TraceFile::create(path);
      f->write_run(*run);
      f->close();
    }
    DriftView from_trace;
    from_trace.setSnapshot(std::make_shared<const RunData>(read_trace(path).at(0)));
    from_trace.setLayerPair(4);
    QCOMPARE(from_trace.transitionHeatmap()->spec().values, view.transitionHeatmap()->spec().values);
    QCOMPARE(from_trace.transitionHeatmap()->spec().subtitle, view.transitionHeatmap()->spec().subtitle);
    QCOMPARE(from_trace.flowView()->currentLayout().bands.size(), view.flowView()->currentLayout().bands.size());
    view.tabs()->setCurrentIndex(1);
    QTest::qWait(50);
    save(view, QStringLiteral("drift_across_time.png"));
  }
};

QTEST_MAIN(TestDriftView)
#include "tst_drift_view.moc"
