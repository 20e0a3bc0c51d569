// SpecializationView (see specialization_view.h).
#include "views/specialization_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "views/drift_matrix_heatmap.h"
#include "views/specialization_model.h"

namespace moescope::views {

namespace {
constexpr int kTopTokens = 6;
// Token text as shown in the table: whitespace made visible, long pieces shortened.
QString show_piece(const std::string& s) {
  QString q = QString::fromStdString(s);
  q.replace(QLatin1Char('\n'), QStringLiteral("\u21b5")).replace(QLatin1Char('\t'), QStringLiteral("\u21e5"));
  q.replace(QLatin1Char(' '), QStringLiteral("\u2423"));
  if (q.size() > 12) q = q.left(11) + QStringLiteral("\u2026");
  return q;
}
}  // namespace

SpecializationView::SpecializationView(QWidget* parent) : QWidget(parent), m_model(new SpecializationModel(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  auto* controls = new QHBoxLayout();
  m_source_box = new QComboBox(this);
  m_source_box->addItems({tr("prompt labels"), tr("token classes")});
  m_layer_box = new QComboBox(this);
  m_sort_box = new QComboBox(this);
  m_measure_box = new QComboBox(this);
  m_measure_box->addItems({tr("normalised PMI"), tr("share p(expert | category)")});
  m_top1_box = new QCheckBox(tr("top-1 only"), this);
  m_run = new QPushButton(tr("Run prompt suite"), this);
  m_run->setToolTip(tr("Run every prompt of the suite in the background and build the map from all of them"));
  m_cancel = new QPushButton(tr("Cancel"), this);
  m_cancel->setEnabled(false);
  m_progress = new QProgressBar(this);
  m_progress->setRange(0, 1);
  m_progress->setValue(0);
  m_progress->setMaximumWidth(160);
  m_status = new QLabel(this);
  controls->addWidget(new QLabel(tr("Categories:"), this));
  controls->addWidget(m_source_box);
  controls->addWidget(new QLabel(tr("Layer:"), this));
  controls->addWidget(m_layer_box);
  controls->addWidget(new QLabel(tr("Sort:"), this));
  controls->addWidget(m_sort_box);
  controls->addWidget(new QLabel(tr("Colour:"), this));
  controls->addWidget(m_measure_box);
  controls->addWidget(m_top1_box);
  controls->addStretch(1);
  controls->addWidget(m_run);
  controls->addWidget(m_cancel);
  controls->addWidget(m_progress);
  layout->addLayout(controls);
  layout->addWidget(m_status);

  auto* split = new QSplitter(Qt::Horizontal, this);
  m_heatmap = new MatrixHeatmap(split);
  m_tokens = new QTableWidget(split);
  m_tokens->setColumnCount(2);
  m_tokens->setHorizontalHeaderLabels({tr("expert"), tr("most frequent tokens (count)")});
  m_tokens->verticalHeader()->setVisible(false);
  m_tokens->horizontalHeader()->setStretchLastSection(true);
  m_tokens->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_tokens->setSelectionBehavior(QAbstractItemView::SelectRows);
  split->addWidget(m_heatmap);
  split->addWidget(m_tokens);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  layout->addWidget(split, 1);

  connect(m_source_box, qOverload<int>(&QComboBox::activated), this, [this](int i) { setUseTokenClasses(i == 1); });
  connect(m_layer_box, qOverload<int>(&QComboBox::activated), this, [this](int i) { setLayer(i); });
  connect(m_measure_box, qOverload<int>(&QComboBox::activated), this,
          [this](int i) { setMeasure(i == 1 ? Measure::Share : Measure::Npmi); });
  connect(m_sort_box, qOverload<int>(&QComboBox::activated), this, [this](int i) {
    if (i <= 0) m_model->setSort(SpecSort::ExpertId);
    else if (i == 1) m_model->setSort(SpecSort::MaxNpmi);
    else m_model->setSort(SpecSort::Category, i - 2);
  });
  connect(m_top1_box, &QCheckBox::toggled, m_model, &SpecializationModel::setTop1Only);
  connect(m_run, &QPushButton::clicked, this, &SpecializationView::runSuiteRequested);
  connect(m_cancel, &QPushButton::clicked, this, &SpecializationView::cancelRequested);
  connect(m_model, &QAbstractItemModel::modelReset, this, [this] { refresh(); syncControls(); });
  connect(m_heatmap, &MatrixHeatmap::cellClicked, this, [this](int row, int) {
    if (row >= 0 && row < m_tokens->rowCount()) m_tokens->selectRow(row);
  });
  refresh();
  syncControls();
}

void SpecializationView::setRuns(std::vector<RunSnapshot> runs) {
  std::set<std::string> labels;
  for (const auto& r : runs)
    if (r) labels.insert(r->label);
  // One label gives a single column: token classes say more.
  const bool classes = labels.size() < 2;
  if ((m_model->source() == SpecializationModel::Source::TokenClasses) != classes)
    m_model->setSource(classes ? SpecializationModel::Source::TokenClasses : SpecializationModel::Source::Labels);
  m_model->setRuns(std::move(runs));
}

void SpecializationView::setSnapshot(RunSnapshot run) { setRuns(run ? std::vector<RunSnapshot>{run} : std::vector<RunSnapshot>{}); }

void SpecializationView::setLayer(int l) { m_model->setLayer(l); }

void SpecializationView::setMeasure(Measure m) {
  m_measure = m;
  refresh();
  syncControls();
}

void SpecializationView::setUseTokenClasses(bool on) {
  m_model->setSource(on ? SpecializationModel::Source::TokenClasses : SpecializationModel::Source::Labels);
}

void SpecializationView::setSuiteProgress(int done, int total, const QString& what) {
  m_progress->setRange(0, std::max(1, total));
  m_progress->setValue(done);
  m_status->setText(what);
}

void SpecializationView::setSuiteRunning(bool running) {
  m_run->setEnabled(!running);
  m_cancel->setEnabled(running);
}

void SpecializationView::setSuiteMessage(const QString& message) { m_status->setText(message); }

void SpecializationView::syncControls() {
  const int M = m_model->numLayers();
  if (m_layer_box->count() != M) {
    m_layer_box->clear();
    const auto& runs = m_model->runs();
    for (int l = 0; l < M; ++l)
      m_layer_box->addItem(runs.empty() ? QString::number(l) : tr("layer %1").arg(runs.front()->moe_layers[size_t(l)]));
  }
  m_layer_box->setCurrentIndex(m_model->layer());
  m_source_box->setCurrentIndex(m_model->source() == SpecializationModel::Source::TokenClasses ? 1 : 0);
  m_measure_box->setCurrentIndex(m_measure == Measure::Share ? 1 : 0);
  m_sort_box->clear();
  m_sort_box->addItems({tr("by expert id"), tr("by max nPMI")});
  for (int c = 0; c < m_model->columnCount(); ++c)
    m_sort_box->addItem(tr("by nPMI for %1").arg(m_model->headerData(c, Qt::Horizontal).toString()));
  m_sort_box->setCurrentIndex(m_model->sort() == SpecSort::ExpertId ? 0
                              : m_model->sort() == SpecSort::MaxNpmi ? 1
                                                                     : 2 + m_model->sortCategory());
}

void SpecializationView::refresh() {
  const auto& m = m_model->matrix();
  const int rows = m_model->rowCount(), cols = m_model->columnCount();
  MatrixSpec spec;
  const auto& runs = m_model->runs();
  const bool labels = m_model->source() == SpecializationModel::Source::Labels;
  int64_t tokens = 0;
  for (const auto& r : runs) tokens += r->num_tokens();
  const QString layer = runs.empty() ? QString() : tr("layer %1").arg(runs.front()->moe_layers[size_t(m_model->layer())]);
  const bool npmi = m_measure == Measure::Npmi;
  spec.title = npmi ? tr("Expert specialisation, %1: normalised PMI of expert and %2").arg(layer, labels ? tr("prompt label") : tr("token class"))
                    : tr("Expert specialisation, %1: share of each %2's selections per expert").arg(layer, labels ? tr("prompt label") : tr("token class"));
  spec.subtitle = npmi ? tr("red = expert chosen more often than chance for that category, blue = less\n%1 runs, %2 tokens, %3 selections")
                             .arg(runs.size()).arg(tokens).arg(std::accumulate(m.counts.begin(), m.counts.end(), int64_t(0)))
                       : tr("p(expert | category); uniform routing would give %1 per expert\n%2 runs, %3 tokens")
                             .arg(m.num_experts > 0 ? 1.0 / m.num_experts : 0.0, 0, 'f', 3).arg(runs.size()).arg(tokens);
  spec.outline_legend = tr("orange: each category's most used expert (thick), second (thin)%1")
                            .arg(npmi ? tr("; grey = never selected") : QString());
  spec.x_title = labels ? tr("prompt label (category)") : tr("token class (category)");
  spec.y_title = tr("expert (%1)").arg(m_sort_box->count() ? m_sort_box->currentText() : tr("by expert id"));
  spec.bar_title = npmi ? tr("normalised PMI") : tr("p(expert | category)");
  spec.rows = rows;
  spec.cols = cols;
  spec.diverging = npmi;
  spec.range = npmi ? m_model->npmiScale() : 0.0;
  spec.show_values = true;
  spec.decimals = 2;
  for (int r = 0; r < rows; ++r) {
    spec.row_labels << m_model->headerData(r, Qt::Vertical).toString();
    for (int c = 0; c < cols; ++c) {
      const QModelIndex i = m_model->index(r, c);
      const bool never = i.data(SpecializationModel::CountRole).toLongLong() == 0;
      // Never-selected cells (nPMI = -1 by definition) are grey, so the colour scale fits the rest.
      const double v = npmi ? (never ? std::nan("") : i.data(SpecializationModel::NpmiRole).toDouble())
                            : i.data(SpecializationModel::ShareRole).toDouble();
      spec.values.push_back(v);
      if (!npmi) spec.range = std::max(spec.range, v);
      spec.outline.push_back(uint8_t(i.data(SpecializationModel::TopExpertRole).toInt()));
    }
  }
  if (!npmi) spec.range = std::clamp(std::ceil(spec.range * 10.0) / 10.0, 0.1, 1.0);
  for (int c = 0; c < cols; ++c) spec.col_labels << m_model->headerData(c, Qt::Horizontal).toString();
  SpecializationModel* model = m_model;
  spec.tooltip = [model](int r, int c) { return model->index(r, c).data(Qt::ToolTipRole).toString(); };
  m_heatmap->setSpec(spec);

  m_tokens->setRowCount(rows);
  for (int r = 0; r < rows; ++r) {
    const int e = m_model->expertAt(r);
    QStringList parts;
    const auto top = m_model->topTokens(e);
    for (size_t i = 0; i < top.size() && int(i) < kTopTokens; ++i)
      parts << QStringLiteral("%1 (%2)").arg(show_piece(top[i].text)).arg(top[i].count);
    m_tokens->setItem(r, 0, new QTableWidgetItem(QStringLiteral("E%1").arg(e)));
    m_tokens->setItem(r, 1, new QTableWidgetItem(parts.join(QStringLiteral("  "))));
  }
  m_tokens->resizeColumnToContents(0);
}

}  // namespace moescope::views
