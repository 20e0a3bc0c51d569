// CompareView (see compare_view.h).
#include "views/compare_view.h"

#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QPlainTextEdit>
#include <QRegularExpression>
#include <QPushButton>
#include <QScatterSeries>
#include <QScrollArea>
#include <QScrollBar>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QValueAxis>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "engine/util/error.h"
#include "views/chart_style.h"
#include "views/compare_export.h"
#include "views/compare_model.h"
#include "views/drift_matrix_heatmap.h"
#include "views/routing_math.h"

namespace moescope::views {

namespace {
constexpr int kLeft = 130;    // shared left margin: columns of every strip line up
constexpr int kRight = 104;   // colour bar and its title
constexpr int kChartHeight = 230;

QString piece(const RunData& r, int t) {
  QString s = t < int(r.token_text.size()) ? QString::fromStdString(r.token_text[size_t(t)]) : QString::number(r.token_ids[size_t(t)]);
  s.replace(QLatin1Char('\n'), QStringLiteral("\u21b5"));
  return s;
}
}  // namespace

QStringList parse_strategy_list(const QString& text) {
  QStringList out;
  for (QString s : text.split(QRegularExpression(QStringLiteral("[;\\n]")))) {
    s = s.trimmed();
    if (!s.isEmpty()) out << s;
  }
  return out;
}

CompareView::CompareView(QWidget* parent) : QWidget(parent), m_metrics(new CompareMetricsModel(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  auto* form = new QFormLayout();
  m_prompt = new QPlainTextEdit(this);
  m_prompt->setMaximumHeight(60);
  m_prompt->setPlaceholderText(tr("Prompt to run under every strategy"));
  m_strategies = new QLineEdit(QStringLiteral("native; topk:1"), this);
  m_strategies->setToolTip(tr("Two or more routing strategy specs separated by ';' (docs/strategies.md), e.g. native; topk:1; native+capacity:1"));
  form->addRow(tr("Prompt:"), m_prompt);
  form->addRow(tr("Strategies:"), m_strategies);
  layout->addLayout(form);
  auto* controls = new QHBoxLayout();
  m_max_new = new QSpinBox(this);
  m_max_new->setRange(0, 4096);
  m_max_new->setValue(24);
  m_max_new->setPrefix(tr("new tokens: "));
  m_forced = new QCheckBox(tr("teacher-forced"), this);
  m_forced->setToolTip(tr("The first strategy generates; the others are stepped through exactly its tokens"));
  m_run = new QPushButton(tr("Compare"), this);
  m_cancel = new QPushButton(tr("Cancel"), this);
  m_cancel->setEnabled(false);
  m_export = new QPushButton(tr("Export CMP.h5\u2026"), this);
  m_export->setEnabled(false);
  m_pair_box = new QComboBox(this);
  m_layer_box = new QComboBox(this);
  controls->addWidget(m_max_new);
  controls->addWidget(m_forced);
  controls->addWidget(m_run);
  controls->addWidget(m_cancel);
  controls->addWidget(m_export);
  controls->addSpacing(16);
  controls->addWidget(new QLabel(tr("Pair:"), this));
  controls->addWidget(m_pair_box);
  controls->addWidget(new QLabel(tr("Layer:"), this));
  controls->addWidget(m_layer_box);
  controls->addStretch(1);
  layout->addLayout(controls);
  m_status = new QLabel(this);
  layout->addWidget(m_status);

  auto* split = new QSplitter(Qt::Vertical, this);
  m_scroll = new QScrollArea(split);
  m_scroll->setWidgetResizable(false);
  auto* content = new QWidget();
  auto* cl = new QVBoxLayout(content);
  cl->setContentsMargins(0, 0, 0, 0);
  cl->setSpacing(2);
  m_a = new MatrixHeatmap(content);
  m_b = new MatrixHeatmap(content);
  m_diff = new MatrixHeatmap(content);
  m_jaccard = new MatrixHeatmap(content);
  m_kl = new QChartView(new QChart(), content);
  m_kl->setRenderHint(QPainter::Antialiasing);
  for (QWidget* w : {static_cast<QWidget*>(m_a), static_cast<QWidget*>(m_b), static_cast<QWidget*>(m_diff),
                     static_cast<QWidget*>(m_jaccard), static_cast<QWidget*>(m_kl)})
    cl->addWidget(w);
  m_scroll->setWidget(content);
  m_table = new QTableView(split);
  m_table->setModel(m_metrics);
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  split->addWidget(m_scroll);
  split->addWidget(m_table);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  m_table->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  layout->addWidget(split, 1);

  connect(m_run, &QPushButton::clicked, this, &CompareView::requestRun);
  connect(m_cancel, &QPushButton::clicked, this, &CompareView::cancelRequested);
  connect(m_export, &QPushButton::clicked, this, &CompareView::chooseExport);
  connect(m_pair_box, qOverload<int>(&QComboBox::activated), this, [this](int i) { setPair(i); });
  connect(m_layer_box, qOverload<int>(&QComboBox::activated), this, [this](int i) { setLayer(i); });
  refresh();
}

void CompareView::setPrompt(const QString& text) { m_prompt->setPlainText(text); }
void CompareView::setStrategies(const QStringList& specs) { m_strategies->setText(specs.join(QStringLiteral("; "))); }

void CompareView::requestRun() {
  const QStringList specs = parse_strategy_list(m_strategies->text());
  if (specs.size() < 2) {
    setMessage(tr("Give at least two strategies, separated by ';'."));
    return;
  }
  if (m_prompt->toPlainText().isEmpty()) {
    setMessage(tr("Enter a prompt first."));
    return;
  }
  emit runRequested(m_prompt->toPlainText(), specs, m_max_new->value(), m_forced->isChecked());
}

void CompareView::setRunning(bool running) {
  m_run->setEnabled(!running);
  m_cancel->setEnabled(running);
}

void CompareView::setProgress(int index, int total, const QString& what) {
  setMessage(tr("running %1 of %2: %3").arg(index + 1).arg(total).arg(what));
}

void CompareView::setMessage(const QString& message) { m_status->setText(message); }

void CompareView::setRuns(std::vector<RunSnapshot> runs, bool teacher_forced) {
  m_runs.clear();
  for (auto& r : runs)
    if (r) m_runs.push_back(std::move(r));
  m_teacher_forced = teacher_forced;
  m_result = {};
  if (m_runs.size() >= 2) {
    std::vector<const RunData*> raw;
    for (const auto& r : m_runs) raw.push_back(r.get());
    try {
      m_result = compare_runs(raw, teacher_forced);
      setMessage(tr("%1 runs compared (%2)").arg(m_runs.size()).arg(teacher_forced ? tr("teacher-forced") : tr("free-running")));
    } catch (const std::exception& e) {
      setMessage(tr("Cannot compare: %1").arg(QString::fromStdString(e.what())));
    }
  }
  if (!m_runs.empty() && m_prompt->toPlainText().isEmpty()) m_prompt->setPlainText(QString::fromStdString(m_runs.front()->prompt));
  m_metrics->setResult(m_result);
  m_pair_box->clear();
  for (const auto& p : m_result.pairs)
    m_pair_box->addItem(tr("%1 vs %2").arg(QString::fromStdString(m_result.runs[size_t(p.a)].strategy),
                                            QString::fromStdString(m_result.runs[size_t(p.b)].strategy)));
  m_layer_box->clear();
  for (int l : m_result.moe_layers) m_layer_box->addItem(tr("layer %1").arg(l));
  m_pair = std::clamp(m_pair, 0, std::max(0, int(m_result.pairs.size()) - 1));
  m_layer = std::clamp(m_layer, 0, std::max(0, m_result.num_moe_layers - 1));
  m_export->setEnabled(!m_result.pairs.empty());
  refresh();
}

void CompareView::setPair(int pair) {
  m_pair = std::clamp(pair, 0, std::max(0, int(m_result.pairs.size()) - 1));
  refresh();
}

void CompareView::setLayer(int l) {
  m_layer = std::clamp(l, 0, std::max(0, m_result.num_moe_layers - 1));
  refresh();
}

QString CompareView::exportComparison(const QString& path) {
  if (m_result.pairs.empty()) return tr("Nothing to export: run a comparison first.");
  try {
    export_comparison(path.toStdString(), m_runs, m_result);
  } catch (const std::exception& e) {
    return QString::fromStdString(e.what());
  }
  setMessage(tr("Comparison written to %1").arg(path));
  return {};
}

void CompareView::chooseExport() {
  const QString path = QFileDialog::getSaveFileName(this, tr("Export comparison"), QStringLiteral("CMP.h5"), tr("HDF5 trace (*.h5)"));
  if (path.isEmpty()) return;
  const QString err = exportComparison(path);
  if (!err.isEmpty()) setMessage(tr("Export failed: %1").arg(err));
}

void CompareView::refresh() {
  if (m_pair_box->count() > 0) m_pair_box->setCurrentIndex(m_pair);
  if (m_layer_box->count() > 0) m_layer_box->setCurrentIndex(m_layer);
  MatrixSpec empty;
  empty.left_margin = kLeft;
  QChart* chart = m_kl->chart();
  chart->removeAllSeries();
  for (QAbstractAxis* a : chart->axes()) {
    chart->removeAxis(a);
    delete a;
  }
  if (m_result.pairs.empty()) {
    empty.title = tr("Compare: choose two or more strategies and press Compare (or open a compare trace)");
    for (MatrixHeatmap* h : {m_b, m_diff, m_jaccard}) h->setSpec(MatrixSpec{});
    m_a->setSpec(empty);
    chart->setTitle(QString());
    m_scroll->widget()->resize(m_scroll->viewport()->width(), 120);
    return;
  }
  const PairComparison& pc = m_result.pairs[size_t(m_pair)];
  const RunData& A = *m_runs[size_t(pc.a)];
  const RunData& B = *m_runs[size_t(pc.b)];
  const int n = pc.positions, E = m_result.num_experts, M = m_result.num_moe_layers;
  const int L = m_result.moe_layers[size_t(m_layer)];
  const int fd = pc.first_divergence;
  const QString marker = fd >= 0 ? tr("first divergent token (position %1)").arg(fd) : QString();
  const QString sa = QString::fromStdString(A.strategy), sb = QString::fromStdString(B.strategy);

  auto probs_spec = [&](const RunData& r, const QString& name) {
    MatrixSpec s;
    s.left_margin = kLeft;
    s.fixed_cell_width = kCellWidth;
    s.fixed_cell_height = 16;
    s.rows = E;
    s.cols = n;
    s.title = tr("%1: router probability per token and expert, layer %2").arg(name, QString::number(L));
    s.subtitle = tr("orange box = expert actually used; red line = first token where the two runs differ");
    s.y_title = tr("expert");
    s.bar_title = tr("router probability");
    s.rotate_col_labels = true;
    s.values.assign(size_t(E) * n, 0.0);
    s.outline.assign(size_t(E) * n, 0);
    double mx = 0;
    for (int t = 0; t < n; ++t) {
      const std::vector<float> p = router_probabilities(r, t, m_layer);
      for (int e = 0; e < E && e < int(p.size()); ++e) {
        s.values[size_t(e) * n + t] = p[size_t(e)];
        mx = std::max(mx, double(p[size_t(e)]));
        if (is_chosen(r, t, m_layer, e)) s.outline[size_t(e) * n + t] = 2;
      }
      s.col_labels << piece(r, t);
    }
    for (int e = 0; e < E; ++e) s.row_labels << QStringLiteral("E%1").arg(e);
    s.range = colour_scale_max(mx);
    s.marker_column = fd >= 0 && fd <= n ? fd : -1;
    s.marker_label = marker;
    const RunData* rp = &r;
    const int layer = m_layer;
    s.tooltip = [rp, layer, n](int row, int col) {
      const auto p = router_probabilities(*rp, col, layer);
      return QStringLiteral("position %1, token \"%2\"\nexpert %3: p = %4%5")
          .arg(col).arg(piece(*rp, col)).arg(row).arg(row < int(p.size()) ? p[size_t(row)] : 0.f, 0, 'f', 4)
          .arg(is_chosen(*rp, col, layer, row) ? QStringLiteral(" (used)") : QString());
    };
    return s;
  };
  m_a->setSpec(probs_spec(A, tr("A = %1").arg(sa)));
  m_b->setSpec(probs_spec(B, tr("B = %1").arg(sb)));

  MatrixSpec d = probs_spec(A, QString());
  d.title = tr("Difference P_A - P_B (A = %1, B = %2), layer %3").arg(sa, sb).arg(L);
  d.subtitle = tr("red = A's router gives the expert more probability, blue = B's; white = same");
  d.bar_title = tr("P_A - P_B");
  d.diverging = true;
  d.outline.clear();
  double mx = 0;
  for (int t = 0; t < n; ++t) {
    const auto pa = router_probabilities(A, t, m_layer), pb = router_probabilities(B, t, m_layer);
    for (int e = 0; e < E; ++e) {
      const double v = double(pa[size_t(e)]) - double(pb[size_t(e)]);
      d.values[size_t(e) * n + t] = v;
      mx = std::max(mx, std::abs(v));
    }
    if (A.token_ids[size_t(t)] != B.token_ids[size_t(t)]) d.col_labels[t] = piece(A, t) + QStringLiteral(" | ") + piece(B, t);
  }
  d.range = colour_scale_max(std::max(mx, 0.05));
  d.tooltip = [d_values = d.values, n](int row, int col) {
    return QStringLiteral("position %1, expert %2: P_A - P_B = %3").arg(col).arg(row).arg(d_values[size_t(row) * n + col], 0, 'f', 4);
  };
  m_diff->setSpec(d);

  MatrixSpec j;
  j.left_margin = kLeft;
  j.fixed_cell_width = kCellWidth;
  j.fixed_cell_height = 16;
  j.rows = M;
  j.cols = n;
  j.title = tr("Routing agreement per position and layer: Jaccard of the two selections |S_A \u2229 S_B| / |S_A \u222a S_B|");
  j.subtitle = tr("1 = same experts, 0 = disjoint (mean %1)").arg(pc.jaccard_mean, 0, 'f', 3);
  j.y_title = tr("layer");
  j.bar_title = tr("Jaccard");
  j.range = 1.0;
  j.rotate_col_labels = true;
  j.col_labels = d.col_labels;
  j.values.assign(size_t(M) * n, 0.0);
  for (int t = 0; t < n; ++t)
    for (int l = 0; l < M; ++l) j.values[size_t(l) * n + t] = pc.jaccard[size_t(t) * M + l];
  for (int l : m_result.moe_layers) j.row_labels << QStringLiteral("L%1").arg(l);
  j.marker_column = fd >= 0 && fd <= n ? fd : -1;
  j.marker_label = marker;
  m_jaccard->setSpec(j);

  // KL per position, its plot area aligned with the heatmap columns above.
  chart->setTitle(pc.has_logits ? tr("KL(P_A || P_B) of the next-token distributions per position (nats); mean %1, max %2%3")
                                      .arg(pc.kl_mean, 0, 'f', 3).arg(pc.kl_max, 0, 'f', 3)
                                      .arg(fd >= 0 && fd < n ? tr("; red line = first divergent token") : QString())
                                : tr("KL per position: the runs carry no next-token logits"));
  chart->legend()->setVisible(false);
  chart->setBackgroundRoundness(0);
  chart->setBackgroundBrush(Qt::white);
  auto* kl = new QLineSeries();
  kl->setName(tr("KL per position"));
  double kmax = 0.01;
  if (pc.has_logits)
    for (int t = 0; t < n && t < int(pc.kl.size()); ++t) kl->append(t, pc.kl[size_t(t)]), kmax = std::max(kmax, pc.kl[size_t(t)]);
  kl->setPointsVisible(true);
  chart->addSeries(kl);
  if (fd >= 0 && fd < n) {
    auto* mark = new QLineSeries();
    mark->setName(tr("first divergent token (position %1)").arg(fd));
    mark->setPen(QPen(QColor(0xd6, 0x27, 0x28), 2.5));
    mark->append(fd - 0.5, 0);
    mark->append(fd - 0.5, kmax * 1.1);
    chart->addSeries(mark);
  }
  auto* ax = new QValueAxis();
  auto* ay = new QValueAxis();
  ax->setRange(-0.5, n - 0.5);
  ax->setTitleText(tr("token position"));
  ax->setLabelFormat(QStringLiteral("%d"));
  ax->setTickType(QValueAxis::TicksDynamic);
  ax->setTickAnchor(0);
  ax->setTickInterval(n > 60 ? 10 : n > 12 ? 5 : 1);
  ay->setRange(0, kmax * 1.1);
  ay->setTitleText(tr("KL (nats)"));
  chart->addAxis(ax, Qt::AlignBottom);
  chart->addAxis(ay, Qt::AlignLeft);
  for (QAbstractSeries* s : chart->series()) s->attachAxis(ax), s->attachAxis(ay);
  style_axes(ax, ay);

  const int width = kLeft + n * kCellWidth + kRight;
  int height = 0;
  for (MatrixHeatmap* h : {m_a, m_b, m_diff, m_jaccard}) {
    const QSize s = h->sizeHint();
    h->setFixedSize(width, s.height());
    height += s.height() + 2;
  }
  m_kl->setFixedSize(width, kChartHeight);
  m_kl->setBackgroundBrush(Qt::white);
  chart->setGeometry(QRectF(0, 0, width, kChartHeight));  // before the view's first resize event too
  chart->setPlotArea(QRectF(kLeft, 48, n * kCellWidth, kChartHeight - 48 - 52));
  height += kChartHeight;
  m_scroll->widget()->setFixedSize(width, height);
}

}  // namespace moescope::views
