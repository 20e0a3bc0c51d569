// DriftView (see drift_view.h).
#include "views/drift_view.h"

#include <QAreaSeries>
#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLegendMarker>
#include <QLineSeries>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QValueAxis>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "probes/metrics/drift.h"
#include "views/chart_style.h"
#include "views/drift_matrix_heatmap.h"
#include "views/drift_series.h"
#include "views/flow_view.h"
#include "views/palette.h"

namespace moescope::views {

namespace {
QChartView* make_chart_view(QWidget* parent) {
  auto* v = new QChartView(new QChart(), parent);
  v->setRenderHint(QPainter::Antialiasing);
  v->chart()->setMargins(QMargins(4, 4, 4, 4));
  v->setMinimumSize(360, 240);
  return v;
}

void reset_chart(QChart* c, const QString& title) {
  c->removeAllSeries();
  for (QAbstractAxis* a : c->axes()) {
    c->removeAxis(a);
    delete a;
  }
  c->setTitle(title);
}
}  // namespace

DriftView::DriftView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  auto* controls = new QHBoxLayout();
  m_pair_box = new QComboBox(this);
  m_pair_box->setToolTip(tr("Pair of consecutive MoE layers of the transition heatmap"));
  m_top1_box = new QCheckBox(tr("top-1 only"), this);
  m_top1_box->setChecked(true);
  m_top1_box->setToolTip(tr("Count only each token's first-ranked expert (otherwise every pair of the two selections)"));
  m_bands_box = new QSpinBox(this);
  m_bands_box->setRange(1, 256);
  m_bands_box->setValue(12);
  m_bands_box->setPrefix(tr("bands per pair: "));
  m_load_box = new QComboBox(this);
  m_load_box->setToolTip(tr("MoE layer of the load-over-time chart"));
  m_window_box = new QSpinBox(this);
  m_window_box->setRange(0, 100000);
  m_window_box->setSpecialValueText(tr("window: auto"));
  m_window_box->setPrefix(tr("window: "));
  m_window_box->setSuffix(tr(" tokens"));
  controls->addWidget(new QLabel(tr("Transition:"), this));
  controls->addWidget(m_pair_box);
  controls->addWidget(m_top1_box);
  controls->addWidget(m_bands_box);
  controls->addSpacing(16);
  controls->addWidget(new QLabel(tr("Load layer:"), this));
  controls->addWidget(m_load_box);
  controls->addWidget(m_window_box);
  controls->addStretch(1);
  layout->addLayout(controls);

  m_tabs = new QTabWidget(this);
  auto* across_layers = new QSplitter(Qt::Horizontal, m_tabs);
  m_heatmap = new MatrixHeatmap(across_layers);
  m_flow = new FlowView(across_layers);
  across_layers->addWidget(m_heatmap);
  across_layers->addWidget(m_flow);
  across_layers->setStretchFactor(0, 1);
  across_layers->setStretchFactor(1, 1);
  m_tabs->addTab(across_layers, tr("Across layers"));

  auto* across_time = new QWidget(m_tabs);
  auto* tl = new QVBoxLayout(across_time);
  tl->setContentsMargins(0, 0, 0, 0);
  m_load_chart = make_chart_view(across_time);
  auto* bottom = new QHBoxLayout();
  m_js_chart = make_chart_view(across_time);
  m_consistency_chart = make_chart_view(across_time);
  bottom->addWidget(m_js_chart, 3);
  bottom->addWidget(m_consistency_chart, 2);
  tl->addWidget(m_load_chart, 3);
  tl->addLayout(bottom, 2);
  m_tabs->addTab(across_time, tr("Across time"));
  layout->addWidget(m_tabs, 1);

  connect(m_pair_box, qOverload<int>(&QComboBox::activated), this, [this](int i) { setLayerPair(i); });
  connect(m_load_box, qOverload<int>(&QComboBox::activated), this, [this](int i) { setLoadLayer(i); });
  connect(m_window_box, qOverload<int>(&QSpinBox::valueChanged), this, [this](int v) { setWindow(v); });
  connect(m_top1_box, &QCheckBox::toggled, this, [this](bool on) { setTop1Only(on); });
  connect(m_bands_box, qOverload<int>(&QSpinBox::valueChanged), m_flow, &FlowView::setTopBands);
  refresh();
}

void DriftView::setSnapshot(RunSnapshot run) {
  m_run = std::move(run);
  refresh();
}

void DriftView::setLayerPair(int from) {
  m_pair = std::clamp(from, 0, std::max(0, (m_run ? m_run->num_moe_layers() : 0) - 2));
  refreshLayers();
  syncCombos();
}

void DriftView::setLoadLayer(int l) {
  m_load_layer = std::clamp(l, 0, std::max(0, (m_run ? m_run->num_moe_layers() : 0) - 1));
  refreshTime();
  syncCombos();
}

void DriftView::setWindow(int tokens) {
  m_window = std::max(0, tokens);
  if (m_window_box->value() != m_window) m_window_box->setValue(m_window);
  refreshTime();
}

void DriftView::setTop1Only(bool on) {
  m_top1 = on;
  if (m_top1_box->isChecked() != on) m_top1_box->setChecked(on);
  refreshLayers();
}

int DriftView::effectiveWindow() const {
  if (m_window > 0) return m_window;
  return m_run ? std::max(4, window_for(m_run->num_tokens(), 12)) : 1;
}

void DriftView::syncCombos() {
  const int M = m_run ? m_run->num_moe_layers() : 0;
  if (m_pair_box->count() != std::max(0, M - 1) || m_load_box->count() != M) {
    m_pair_box->clear();
    m_load_box->clear();
    for (int l = 0; l + 1 < M; ++l)
      m_pair_box->addItem(tr("layer %1 \u2192 %2").arg(m_run->moe_layers[size_t(l)]).arg(m_run->moe_layers[size_t(l) + 1]));
    for (int l = 0; l < M; ++l) m_load_box->addItem(tr("layer %1").arg(m_run->moe_layers[size_t(l)]));
  }
  m_pair_box->setCurrentIndex(std::min(m_pair, m_pair_box->count() - 1));
  m_load_box->setCurrentIndex(std::min(m_load_layer, m_load_box->count() - 1));
}

void DriftView::refresh() {
  const int M = m_run ? m_run->num_moe_layers() : 0;
  m_pair = std::clamp(m_pair, 0, std::max(0, M - 2));
  m_load_layer = std::clamp(m_load_layer, 0, std::max(0, M - 1));
  syncCombos();
  m_flow->setSnapshot(m_run);
  refreshLayers();
  refreshTime();
}

void DriftView::refreshLayers() {
  MatrixSpec spec;
  spec.title = tr("Expert transitions between consecutive MoE layers");
  spec.bar_title = tr("P(next-layer expert | expert)");
  const int M = m_run ? m_run->num_moe_layers() : 0;
  if (!m_run || M < 2 || m_run->num_tokens() == 0) {
    spec.subtitle = tr("needs a run with at least two MoE layers");
    m_heatmap->setSpec(spec);
    return;
  }
  const int E = m_run->num_experts;
  const int la = m_run->moe_layers[size_t(m_pair)], lb = m_run->moe_layers[size_t(m_pair) + 1];
  const std::vector<int64_t> counts = metrics::transition_matrix(*m_run, m_pair, m_top1);
  const double h = metrics::conditional_entropy(counts, E);
  spec.title = tr("Expert transitions, layer %1 \u2192 layer %2 (%3)").arg(la).arg(lb).arg(m_top1 ? tr("top-1 experts") : tr("all selected pairs"));
  spec.subtitle = tr("row = a token's expert at layer %1 (token count), column = its expert at layer %2; rows sum to 1\n"
                     "conditional entropy H(e%2 | e%1) = %3 nats (%4 if layer %2 ignored layer %1 and spread evenly)")
                      .arg(la).arg(lb).arg(h, 0, 'f', 3).arg(std::log(double(E)), 0, 'f', 3);
  spec.x_title = tr("expert at layer %1").arg(lb);
  spec.y_title = tr("expert at layer %1").arg(la);
  spec.rows = spec.cols = E;
  spec.values = row_normalise(counts, E);
  double mx = 0;
  for (double v : spec.values) mx = std::max(mx, v);
  spec.range = std::clamp(std::ceil(mx * 10.0) / 10.0, 0.1, 1.0);
  spec.show_values = true;
  spec.decimals = 2;
  for (int e = 0; e < E; ++e) {
    int64_t row = 0;
    for (int b = 0; b < E; ++b) row += counts[size_t(e) * E + b];
    spec.row_labels << tr("E%1 (%2)").arg(e).arg(row);
    spec.col_labels << tr("E%1").arg(e);
  }
  spec.tooltip = [counts, E, la, lb](int r, int c) {
    int64_t row = 0;
    for (int b = 0; b < E; ++b) row += counts[size_t(r) * E + b];
    const int64_t n = counts[size_t(r) * E + c];
    return QStringLiteral("E%1 at layer %2 \u2192 E%3 at layer %4\n%5 of %6 (%7%)")
        .arg(r).arg(la).arg(c).arg(lb).arg(n).arg(row).arg(row ? 100.0 * double(n) / double(row) : 0.0, 0, 'f', 1);
  };
  m_heatmap->setSpec(spec);
}

void DriftView::refreshTime() {
  const int M = m_run ? m_run->num_moe_layers() : 0;
  const int E = m_run ? m_run->num_experts : 0;
  const int window = effectiveWindow();
  // Stacked area: share of each expert per window at one layer.
  QChart* lc = m_load_chart->chart();
  reset_chart(lc, QString());
  if (m_run && M > 0 && m_run->num_tokens() > 0) {
    lc->setTitle(tr("Expert load over the sequence, layer %1 (share of the selections in windows of %2 tokens)")
                     .arg(m_run->moe_layers[size_t(m_load_layer)]).arg(window));
    const auto shares = windowed_load(*m_run, m_load_layer, window);
    const int N = m_run->num_tokens();
    std::vector<double> below(shares.size(), 0.0);
    auto* ax = new QValueAxis();
    auto* ay = new QValueAxis();
    ax->setTitleText(tr("token position (window centre)"));
    ay->setTitleText(tr("share of selections"));
    ay->setRange(0, 1);
    ax->setRange(0, std::max(1, N - 1));
    ax->setLabelFormat(QStringLiteral("%d"));
    lc->addAxis(ax, Qt::AlignBottom);
    lc->addAxis(ay, Qt::AlignLeft);
    for (int e = 0; e < E; ++e) {
      auto* lower = new QLineSeries();
      auto* upper = new QLineSeries();
      for (size_t w = 0; w < shares.size(); ++w) {
        const double x = std::min(double(N - 1), (double(w) + 0.5) * window);
        lower->append(x, below[w]);
        below[w] += shares[w][size_t(e)];
        upper->append(x, below[w]);
      }
      auto* area = new QAreaSeries(upper, lower);
      upper->setParent(area);  // QAreaSeries does not own its boundary series
      lower->setParent(area);
      area->setName(tr("E%1").arg(e));
      area->setColor(expert_colour(e));
      area->setBorderColor(expert_colour(e).darker(130));
      lc->addSeries(area);
      area->attachAxis(ax);
      area->attachAxis(ay);
    }
    lc->legend()->setAlignment(Qt::AlignRight);
    lc->legend()->setVisible(true);
    QFont lf = lc->legend()->font();
    lf.setPointSizeF(std::max(7.0, lf.pointSizeF() - 1));
    lc->legend()->setFont(lf);
    ax->applyNiceNumbers();
    style_axes(ax, ay);
  } else {
    lc->setTitle(tr("Expert load over the sequence (no tokens yet)"));
  }

  // JS divergence between consecutive windows, one line per layer.
  QChart* jc = m_js_chart->chart();
  reset_chart(jc, tr("Load drift: JS divergence between consecutive windows of %1 tokens").arg(window));
  if (m_run && M > 0) {
    const auto js = metrics::window_drift(*m_run, window);
    auto* ax = new QValueAxis();
    auto* ay = new QValueAxis();
    ax->setTitleText(tr("window boundary (token position)"));
    ay->setTitleText(tr("JS divergence (nats, max ln 2)"));
    double ymax = 0.05;
    int wmax = 1;
    for (int l = 0; l < M && l < int(js.size()); ++l) {
      auto* s = new QLineSeries();
      s->setName(tr("layer %1").arg(m_run->moe_layers[size_t(l)]));
      for (size_t w = 0; w < js[size_t(l)].size(); ++w) {
        s->append(double(w + 1) * window, js[size_t(l)][w]);
        ymax = std::max(ymax, js[size_t(l)][w]);
        wmax = std::max(wmax, int(w + 1) * window);
      }
      s->setPointsVisible(true);
      s->setColor(QColor::fromHsv((l * 300) / std::max(1, M), 200, 200));
      jc->addSeries(s);
    }
    ax->setRange(0, wmax + window / 2.0);
    ax->setLabelFormat(QStringLiteral("%d"));
    ay->setRange(0, std::min(std::log(2.0), ymax * 1.15));
    ay->applyNiceNumbers();
    ax->applyNiceNumbers();
    jc->addAxis(ax, Qt::AlignBottom);
    jc->addAxis(ay, Qt::AlignLeft);
    for (QAbstractSeries* s : jc->series()) s->attachAxis(ax), s->attachAxis(ay);
    if (jc->series().isEmpty()) jc->setTitle(jc->title() + tr(" (needs at least two full windows)"));
    jc->legend()->setAlignment(Qt::AlignRight);
    style_axes(ax, ay);
  }

  // Token-id consistency per layer.
  QChart* cc = m_consistency_chart->chart();
  reset_chart(cc, tr("Token-id consistency: share of a repeated token's occurrences on its usual top-1 expert"));
  if (m_run && M > 0) {
    auto* set = new QBarSet(tr("weighted by occurrences"));
    auto* set2 = new QBarSet(tr("mean over token ids"));
    QStringList cats;
    int ids = 0;
    for (int l = 0; l < M; ++l) {
      const auto c = metrics::token_consistency(*m_run, l);
      *set << c.weighted;
      *set2 << c.mean_over_ids;
      ids = c.token_ids;
      cats << QString::number(m_run->moe_layers[size_t(l)]);
    }
    set->setColor(QColor(0x21, 0x71, 0xb5));
    set2->setColor(QColor(0x9e, 0xca, 0xe1));
    auto* series = new QBarSeries();
    series->append(set);
    series->append(set2);
    cc->addSeries(series);
    auto* ax = new QBarCategoryAxis();
    ax->append(cats);
    ax->setTitleText(tr("MoE layer (%1 token ids occur twice or more)").arg(ids));
    auto* ay = new QValueAxis();
    ay->setRange(0, 1);
    ay->setTitleText(tr("consistency"));
    cc->addAxis(ax, Qt::AlignBottom);
    cc->addAxis(ay, Qt::AlignLeft);
    series->attachAxis(ax);
    series->attachAxis(ay);
    cc->legend()->setAlignment(Qt::AlignBottom);
    style_axes(ax, ay);
  }
}

}  // namespace moescope::views
