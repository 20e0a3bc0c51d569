// RoutingTableModel (QAbstractItemModelTester + values against an independent softmax), the heatmap
// image (pixel = colour of the model value) and the RoutingHeatmap widget (click -> token, tooltip,
// offscreen render saved for review).
#include <QAbstractItemModelTester>
#include <QHelpEvent>
#include <QSignalSpy>
#include <QtTest>
#include <cmath>

#include "views/palette.h"
#include "views/routing_heatmap.h"
#include "views/routing_table_model.h"

using namespace moescope;
using namespace moescope::views;

namespace {
// N tokens, 2 MoE layers (model layers 1 and 3), E = 6, K = 2. Logits follow a fixed formula; the
// chosen experts are the two largest logits (worked out below by a plain sort), token 4 is dropped
// at MoE layer 1.
std::shared_ptr<RunData> make_run(int n = 8) {
  auto r = std::make_shared<RunData>();
  r->family = "mixtral";
  r->num_experts = 6;
  r->k_max = 2;
  r->moe_layers = {1, 3};
  for (int t = 0; t < n; ++t) {
    r->token_ids.push_back(100 + t);
    r->token_text.push_back(t % 3 == 0 ? " tok" + std::to_string(t) : "t" + std::to_string(t));
    r->is_prompt.push_back(t < n / 2 ? 1 : 0);
    for (int l = 0; l < 2; ++l) {
      std::vector<std::pair<float, int>> ranked;
      for (int e = 0; e < 6; ++e) {
        const float logit = float(std::sin(0.7 * t + 1.3 * e + 2.1 * l) * 3.0);
        r->router_logits.push_back(logit);
        ranked.push_back({logit, e});
      }
      std::sort(ranked.begin(), ranked.end(), [](auto a, auto b) { return a.first > b.first; });
      const bool drop = (t == 4 && l == 1);
      r->experts.push_back(drop ? -1 : ranked[0].second);
      r->experts.push_back(drop ? -1 : ranked[1].second);
      r->weights.push_back(drop ? 0.f : 0.7f);
      r->weights.push_back(drop ? 0.f : 0.3f);
      r->dropped.push_back(drop ? 1 : 0);
    }
  }
  return r;
}

double softmax_ref(const RunData& r, int t, int l, int e) {
  const float* z = r.logits_at(t, l);
  double s = 0;
  for (int i = 0; i < r.num_experts; ++i) s += std::exp(double(z[i]));
  return std::exp(double(z[e])) / s;
}
}  // namespace

class TestRoutingTableModel : public QObject {
  Q_OBJECT
 private slots:
  void modelTester() {
    RoutingTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setSnapshot(make_run(5));
    model.setLayer(1);
    model.setMode(RoutingTableModel::Mode::Layers);
    model.setSnapshot(make_run(9));  // a longer run (live growth)
    model.setMode(RoutingTableModel::Mode::Experts);
    model.setSnapshot(nullptr);
    QCOMPARE(model.rowCount(), 0);
  }
  void expertsModeValues() {
    RoutingTableModel model;
    auto run = make_run();
    model.setSnapshot(run);
    model.setLayer(1);
    QCOMPARE(model.rowCount(), 8);
    QCOMPARE(model.columnCount(), 6);
    for (int t = 0; t < 8; ++t)
      for (int e = 0; e < 6; ++e) {
        const QModelIndex idx = model.index(t, e);
        QVERIFY(std::abs(idx.data(RoutingTableModel::ValueRole).toDouble() - softmax_ref(*run, t, 1, e)) < 1e-6);
        const int32_t* ex = run->experts_at(t, 1);
        const bool chosen = ex[0] == e || ex[1] == e;
        QCOMPARE(idx.data(RoutingTableModel::ChosenRole).toBool(), chosen);
        QCOMPARE(idx.data(RoutingTableModel::RankRole).toInt(), ex[0] == e ? 0 : ex[1] == e ? 1 : -1);
        QCOMPARE(idx.data(RoutingTableModel::DroppedRole).toBool(), t == 4);
      }
    QCOMPARE(model.headerData(2, Qt::Horizontal).toString(), QStringLiteral("E2"));
    QCOMPARE(model.headerData(0, Qt::Vertical).toString(), QStringLiteral("\u2423tok0"));  // space made visible
    const QString tip = model.index(2, 3).data(Qt::ToolTipRole).toString();
    QVERIFY2(tip.contains(QString::number(softmax_ref(*run, 2, 1, 3), 'f', 6)), qPrintable(tip));
    QVERIFY(tip.contains(QStringLiteral("layer 3")));  // model layer index of MoE layer 1
    QVERIFY(model.index(4, 0).data(Qt::ToolTipRole).toString().contains(QStringLiteral("DROPPED")));
  }
  void layersModeValues() {
    RoutingTableModel model;
    auto run = make_run();
    model.setMode(RoutingTableModel::Mode::Layers);
    model.setSnapshot(run);
    QCOMPARE(model.columnCount(), 2);
    QCOMPARE(model.headerData(1, Qt::Horizontal).toString(), QStringLiteral("L3"));
    for (int t = 0; t < 8; ++t)
      for (int l = 0; l < 2; ++l) {
        const int expect = (t == 4 && l == 1) ? -1 : run->experts_at(t, l)[0];
        QCOMPARE(model.index(t, l).data(RoutingTableModel::ValueRole).toInt(), expect);
      }
  }
  void layerChangeEmitsDataChanged() {
    RoutingTableModel model;
    model.setSnapshot(make_run());
    QSignalSpy spy(&model, &QAbstractItemModel::dataChanged);
    model.setLayer(1);
    QCOMPARE(spy.count(), 1);
    model.setLayer(7);  // clamped to the last layer: no change
    QCOMPARE(model.layer(), 1);
    QCOMPARE(spy.count(), 1);
  }
  void heatmapImagePixels() {
    RoutingTableModel model;
    auto run = make_run();
    model.setSnapshot(run);
    const QImage img = heatmap_image(model);
    QCOMPARE(img.size(), QSize(8, 6));  // x = token, y = expert
    double mx = 0;
    for (int t = 0; t < 8; ++t)
      for (int e = 0; e < 6; ++e) mx = std::max(mx, softmax_ref(*run, t, 0, e));
    const double scale = std::clamp(std::ceil(mx * 10 - 1e-9) / 10, 0.1, 1.0);
    QCOMPARE(model.colourScaleMax(), scale);
    for (int t = 0; t < 8; ++t)
      for (int e = 0; e < 6; ++e)
        QCOMPARE(QColor(img.pixel(t, e)), sequential_colour(softmax_ref(*run, t, 0, e) / scale));
    model.setMode(RoutingTableModel::Mode::Layers);
    const QImage li = heatmap_image(model);
    QCOMPARE(li.size(), QSize(8, 2));
    QCOMPARE(QColor(li.pixel(4, 1)), expert_colour(-1));
    QCOMPARE(QColor(li.pixel(3, 0)), expert_colour(run->experts_at(3, 0)[0]));
  }
  void widgetClickAndTooltip() {
    RoutingTableModel model;
    auto run = make_run(24);
    model.setSnapshot(run);
    RoutingHeatmap w(&model);
    w.resize(900, 420);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    const HeatmapGeometry g = w.currentGeometry();
    QCOMPARE(g.columns(), 24);
    QCOMPARE(g.rows(), 6);
    QSignalSpy spy(&w, &RoutingHeatmap::tokenClicked);
    QTest::mouseClick(&w, Qt::LeftButton, {}, QPoint(int(g.column_centre(13)), int(g.row_centre(2))));
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toInt(), 13);
    QCOMPARE(w.selectedToken(), 13);
    // Clicks on the axis labels (left of the grid) select nothing.
    QTest::mouseClick(&w, Qt::LeftButton, {}, QPoint(5, int(g.row_centre(2))));
    QCOMPARE(spy.count(), 1);
    const QImage shot = w.grab().toImage();
    // The cell centre shows the model's colour (paint uses the same image and geometry).
    const QColor expect = sequential_colour(model.index(5, 4).data(RoutingTableModel::ValueRole).toDouble() / model.colourScaleMax());
    const QColor got = shot.pixelColor(int(g.column_centre(5)), int(g.row_centre(4)));
    QVERIFY2(std::abs(got.red() - expect.red()) + std::abs(got.green() - expect.green()) + std::abs(got.blue() - expect.blue()) <= 6,
             qPrintable(got.name() + " vs " + expect.name()));
    QDir().mkpath(QStringLiteral(MOESCOPE_SCREENSHOT_DIR));
    QVERIFY(shot.save(QStringLiteral(MOESCOPE_SCREENSHOT_DIR "/test_heatmap_experts.png")));
    model.setMode(RoutingTableModel::Mode::Layers);
    QVERIFY(w.grab().save(QStringLiteral(MOESCOPE_SCREENSHOT_DIR "/test_heatmap_layers.png")));
  }
};

QTEST_MAIN(TestRoutingTableModel)
#include "tst_routing_table_model.moc"
