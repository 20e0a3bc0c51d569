// ExpertLoadView (see expert_load_view.h).
#include "views/expert_load_view.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QSplitter>
#include <QStackedBarSeries>
#include <QTableView>
#include <QValueAxis>
#include <cmath>

#include "views/chart_adapters.h"
#include "views/stacked_bar_chart.h"
#include "views/expert_load_model.h"
#include "views/palette.h"

namespace moescope::views {


ExpertLoadView::ExpertLoadView(QWidget* parent) : QWidget(parent), m_model(new ExpertLoadModel(this)) {
  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Layer:")));
  m_layer_combo = new QComboBox;
  m_layer_combo->setObjectName(QStringLiteral("loadLayerCombo"));
  controls->addWidget(m_layer_combo);
  controls->addSpacing(12);
  auto* cf_label = new QLabel(tr("Capacity factor (CF):"));
  controls->addWidget(cf_label);
  m_cf_spin = new QDoubleSpinBox;
  m_cf_spin->setObjectName(QStringLiteral("capacityFactorSpin"));
  m_cf_spin->setRange(0.1, 8.0);
  m_cf_spin->setSingleStep(0.25);
  m_cf_spin->setDecimals(2);
  m_cf_spin->setValue(1.0);
  m_cf_spin->setToolTip(tr("Capacity per expert C = CF \u00b7 T \u00b7 k / E (T tokens, k experts per token, E experts)"));
  cf_label->setBuddy(m_cf_spin);
  controls->addWidget(m_cf_spin);
  controls->addStretch(1);

  m_chart = new QChart;
  m_bars = std::make_unique<StackedBarChart>(
      m_chart, StackedBarChart::Style{tr("within capacity"), tr("over capacity"), QColor(0x42, 0x92, 0xc6),
                                      dropped_mark_colour(), tr("expert id"), tr("tokens routed"), tr("capacity")});
  auto* chart_view = new QChartView(m_chart);
  chart_view->setRenderHint(QPainter::Antialiasing);
  chart_view->setMinimumHeight(240);

  m_summary = new QLabel;
  m_summary->setWordWrap(true);
  m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_table = new QTableView;
  m_table->setModel(m_model);
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  m_table->verticalHeader()->setDefaultSectionSize(20);

  auto* split = m_split = new QSplitter(Qt::Vertical);
  split->addWidget(chart_view);
  split->addWidget(m_table);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 1);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(controls);
  layout->addWidget(split, 1);
  layout->addWidget(m_summary);

  connect(m_layer_combo, &QComboBox::currentIndexChanged, this, [this](int i) {
    if (i >= 0 && i != m_layer) {
      m_layer = i;
      rebuildChart();
    }
  });
  connect(m_cf_spin, &QDoubleSpinBox::valueChanged, this, [this](double cf) {
    m_model->setCapacityFactor(cf);
    rebuildChart();
    updateSummary();
  });
  rebuildChart();
  updateSummary();
}

ExpertLoadView::~ExpertLoadView() = default;

void ExpertLoadView::setSnapshot(RunSnapshot run) {
  const int old_layers = m_run ? m_run->num_moe_layers() : -1;
  m_run = std::move(run);
  m_model->setSnapshot(m_run);
  const int layers = m_run ? m_run->num_moe_layers() : 0;
  if (layers != old_layers) {
    QSignalBlocker block(m_layer_combo);
    m_layer_combo->clear();
    for (int l = 0; l < layers; ++l) m_layer_combo->addItem(tr("layer %1").arg(m_run->moe_layers[size_t(l)]));
    m_layer = std::clamp(m_layer, 0, std::max(0, layers - 1));
    m_layer_combo->setCurrentIndex(m_layer);
  }
  rebuildChart();
  updateSummary();
}

void ExpertLoadView::resizeEvent(QResizeEvent* e) {
  QWidget::resizeEvent(e);
  // Wide and short (a bottom dock): chart beside the table; otherwise chart above the table.
  const Qt::Orientation o = width() > 2 * height() ? Qt::Horizontal : Qt::Vertical;
  if (m_split->orientation() != o) {
    m_split->setOrientation(o);
    m_split->setSizes(o == Qt::Horizontal ? QList<int>{width() * 3 / 5, width() * 2 / 5} : QList<int>{height() * 3 / 4, height() / 4});
  }
}

void ExpertLoadView::setLayer(int moe_layer) {
  if (moe_layer >= 0 && moe_layer < m_layer_combo->count()) m_layer_combo->setCurrentIndex(moe_layer);
}

void ExpertLoadView::setCapacityFactor(double cf) { m_cf_spin->setValue(cf); }

void ExpertLoadView::rebuildChart() {
  const LoadTable& load = m_model->load();
  if (!m_run || load.layers == 0 || load.experts == 0) {
    m_bars->clear();
    m_chart->setTitle(tr("Expert load: no run yet"));
    return;
  }
  const double cap = m_model->capacity();
  const StackedBars bars = load_bars(load, m_layer, cap);
  // A round y range (multiples of 1, 2, 5 x 10^n) with about five ticks.
  const double top = std::max(bars.max_total(), cap) * 1.08;
  double step = 1;
  for (double s : {1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0})
    if (top / s <= 5) {
      step = s;
      break;
    }
  const int ticks = int(std::ceil(top / step)) + 1;
  m_bars->setData(bars, step * (ticks - 1), ticks, QStringLiteral("%.0f"));
  m_bars->setLine(cap, tr("capacity C = %1").arg(cap, 0, 'f', 2));
  m_chart->setTitle(tr("Expert load at layer %1: %2 tokens \u00d7 k=%3 over %4 experts, CF %5")
                        .arg(m_model->layerIndex(m_layer))
                        .arg(load.tokens)
                        .arg(experts_per_token(*m_run))
                        .arg(load.experts)
                        .arg(m_model->capacityFactor(), 0, 'f', 2));
}

QString ExpertLoadView::summaryText() const { return m_summary->text(); }

void ExpertLoadView::updateSummary() {
  const LoadTable& load = m_model->load();
  if (!m_run || load.layers == 0) {
    m_summary->setText(tr("No routing recorded yet."));
    return;
  }
  const double cap = m_model->capacity();
  double total_over = 0;
  int64_t routed = 0;
  QStringList per_layer;
  for (int l = 0; l < load.layers; ++l) {
    const double o = overflow_at_layer(load, l, cap);
    total_over += o;
    routed += load.layer_total(l);
    per_layer << QStringLiteral("L%1 %2").arg(m_model->layerIndex(l)).arg(o, 0, 'f', 0);
  }
  m_summary->setText(tr("Session: %1 tokens, %2 token-expert slots routed over %3 layers. Capacity C = CF\u00b7T\u00b7k/E = "
                        "%4\u00b7%1\u00b7%5/%6 = %7 per expert. Slots over capacity: %8 (%9%) \u2014 %10")
                         .arg(load.tokens)
                         .arg(routed)
                         .arg(load.layers)
                         .arg(m_model->capacityFactor(), 0, 'f', 2)
                         .arg(experts_per_token(*m_run))
                         .arg(load.experts)
                         .arg(cap, 0, 'f', 2)
                         .arg(total_over, 0, 'f', 0)
                         .arg(routed > 0 ? 100.0 * total_over / double(routed) : 0.0, 0, 'f', 1)
                         .arg(per_layer.join(QStringLiteral(", "))));
}

}  // namespace moescope::views
