// TokenDetailsView (see token_details_view.h).
#include "views/token_details_view.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QSplitter>
#include <QStackedBarSeries>
#include <QTableView>
#include <QVBoxLayout>
#include <QValueAxis>
#include <cmath>

#include "views/chart_adapters.h"
#include "views/stacked_bar_chart.h"
#include "views/palette.h"
#include "views/routing_math.h"
#include "views/routing_table_model.h"
#include "views/token_details_model.h"

namespace moescope::views {

TokenDetailsView::TokenDetailsView(QWidget* parent) : QWidget(parent), m_model(new TokenDetailsModel(this)) {
  m_header = new QLabel;
  m_header->setWordWrap(true);
  m_header->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_chart = new QChart;
  m_bars = std::make_unique<StackedBarChart>(
      m_chart, StackedBarChart::Style{tr("not chosen"), tr("chosen by the router"), QColor(0x9e, 0xca, 0xe1),
                                      chosen_outline_colour(), tr("expert id"), tr("probability"), QString()});
  auto* chart_view = new QChartView(m_chart);
  chart_view->setRenderHint(QPainter::Antialiasing);
  chart_view->setMinimumHeight(220);
  m_table = new QTableView;
  m_table->setModel(m_model);
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->setSelectionMode(QAbstractItemView::SingleSelection);
  m_table->horizontalHeader()->setStretchLastSection(true);
  m_table->verticalHeader()->hide();
  m_table->verticalHeader()->setDefaultSectionSize(20);
  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(chart_view);
  split->addWidget(m_table);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(m_header);
  layout->addWidget(split, 1);
  connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& cur) {
            if (cur.isValid() && cur.row() != m_layer) {
              m_layer = cur.row();
              rebuild();
            }
          });
  connect(m_model, &QAbstractItemModel::modelReset, this, [this] {
    m_table->resizeColumnsToContents();
  });
  rebuild();
}

TokenDetailsView::~TokenDetailsView() = default;

int TokenDetailsView::token() const { return m_model->token(); }

void TokenDetailsView::setSnapshot(RunSnapshot run) {
  m_run = run;
  m_model->setSnapshot(std::move(run));
  rebuild();
}

void TokenDetailsView::setToken(int token) {
  m_model->setToken(token);
  rebuild();
}

void TokenDetailsView::setLayer(int moe_layer) {
  m_layer = std::max(0, moe_layer);
  rebuild();
}

void TokenDetailsView::rebuild() {
  const int t = m_model->token();
  if (!m_run || t < 0 || t >= m_run->num_tokens() || m_run->num_moe_layers() == 0) {
    m_header->setText(tr("Click a token (chip or heatmap column) to see how each layer routed it."));
    m_chart->setTitle(QString());
    m_bars->clear();
    return;
  }
  const RunData& run = *m_run;
  m_layer = std::clamp(m_layer, 0, run.num_moe_layers() - 1);
  const bool prompt = size_t(t) < run.is_prompt.size() && run.is_prompt[size_t(t)];
  // GPT-OSS weighs its k experts by a softmax over their k logits only; the bars show the softmax over all.
  const QString rule =
      run.family == "gpt_oss"
          ? tr("top-%1 of the logits, weights = softmax over those %1 (bars: softmax over all %2 experts)")
                .arg(experts_per_token(run))
                .arg(run.num_experts)
          : tr("%1 over %2 experts; k = %3")
                    .arg(QString::fromLatin1(score_kind_label(score_kind_for_family(run.family))))
                    .arg(run.num_experts)
                    .arg(experts_per_token(run)) +
                (group_limit_note(run).empty() ? QString() : QStringLiteral("; ") + QString::fromStdString(group_limit_note(run)));
  m_header->setText(tr("<b>Token #%1</b> \u201c%2\u201d (id %3, %4). Router: %5.")
                        .arg(t)
                        .arg(RoutingTableModel::tokenLabel(run.token_text[size_t(t)]).toHtmlEscaped())
                        .arg(run.token_ids[size_t(t)])
                        .arg(prompt ? tr("prompt") : tr("generated"))
                        .arg(rule));
  const StackedBars bars = probability_bars(run, t, m_layer);
  const double y_max = colour_scale_max(bars.max_total() * 1.08);  // a round top
  const int tenths = int(std::lround(y_max * 10));
  m_bars->setData(bars, y_max, tenths <= 6 ? tenths + 1 : (tenths % 2 == 0 ? tenths / 2 + 1 : tenths + 1),
                  QStringLiteral("%.1f"));
  QStringList picks;
  const int32_t* ex = run.experts_at(t, m_layer);
  const float* w = run.weights_at(t, m_layer);
  for (int k = 0; k < run.k_max; ++k)
    if (ex[k] >= 0) picks << QStringLiteral("E%1 \u00d7 %2").arg(ex[k]).arg(double(w[k]), 0, 'f', 3);
  const bool dropped = !run.dropped.empty() && run.dropped_at(t, m_layer);
  m_chart->setTitle(tr("Token #%1 at layer %2: %3%4")
                        .arg(t)
                        .arg(run.moe_layers[size_t(m_layer)])
                        .arg(picks.isEmpty() ? tr("no expert") : picks.join(QStringLiteral(", ")))
                        .arg(dropped ? tr(" (dropped by capacity)") : QString()));
  if (m_table->currentIndex().row() != m_layer && m_layer < m_model->rowCount()) {
    QSignalBlocker block(m_table->selectionModel());
    m_table->selectRow(m_layer);
  }
}

}  // namespace moescope::views
