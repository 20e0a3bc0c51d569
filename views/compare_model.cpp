// CompareMetricsModel (see compare_model.h).
#include "views/compare_model.h"

#include <cmath>
#include <limits>

namespace moescope::views {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

CompareMetricsModel::CompareMetricsModel(QObject* parent) : QAbstractTableModel(parent) {}

void CompareMetricsModel::setResult(const ComparisonResult& result) {
  beginResetModel();
  m_result = result;
  endResetModel();
}

QString CompareMetricsModel::metricName(int m) {
  switch (m) {
    case StrategyA: return tr("strategy A");
    case StrategyB: return tr("strategy B");
    case Positions: return tr("positions compared");
    case Jaccard: return tr("routing Jaccard (mean)");
    case Top1ExpertAgreement: return tr("top-1 expert agreement");
    case LoadJs: return tr("load JS divergence (nats, mean over layers)");
    case DroppedA: return tr("dropped share A");
    case DroppedB: return tr("dropped share B");
    case KlMean: return tr("KL(P_A || P_B) mean (nats)");
    case KlMax: return tr("KL max (nats)");
    case Top1TokenAgreement: return tr("top-1 next-token agreement");
    case FirstDivergence: return tr("first divergent token (position)");
    case PerplexityA: return tr("perplexity A");
    case PerplexityB: return tr("perplexity B");
    default: return {};
  }
}

double CompareMetricsModel::value(int m, int pi) const {
  if (pi < 0 || pi >= int(m_result.pairs.size())) return kNaN;
  const PairComparison& p = m_result.pairs[size_t(pi)];
  switch (m) {
    case Positions: return p.positions;
    case Jaccard: return p.jaccard_mean;
    case Top1ExpertAgreement: return p.top1_expert_agreement;
    case LoadJs: return p.load_js_mean;
    case DroppedA: return p.dropped_a;
    case DroppedB: return p.dropped_b;
    case KlMean: return p.has_logits ? p.kl_mean : kNaN;
    case KlMax: return p.has_logits ? p.kl_max : kNaN;
    case Top1TokenAgreement: return p.has_logits ? p.top1_token_agreement : kNaN;
    case FirstDivergence: return p.first_divergence;
    case PerplexityA: return m_result.runs[size_t(p.a)].perplexity;
    case PerplexityB: return m_result.runs[size_t(p.b)].perplexity;
    default: return kNaN;
  }
}

int CompareMetricsModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() || m_result.pairs.empty() ? 0 : MetricCount;
}

int CompareMetricsModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : int(m_result.pairs.size());
}

QVariant CompareMetricsModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount() || index.column() >= columnCount()) return {};
  const int m = index.row();
  const PairComparison& p = m_result.pairs[size_t(index.column())];
  if (role == ValueRole) return value(m, index.column());
  if (role == Qt::TextAlignmentRole) return int(Qt::AlignRight | Qt::AlignVCenter);
  if (role != Qt::DisplayRole && role != Qt::ToolTipRole) return {};
  if (m == StrategyA) return QString::fromStdString(m_result.runs[size_t(p.a)].strategy);
  if (m == StrategyB) return QString::fromStdString(m_result.runs[size_t(p.b)].strategy);
  if (m == FirstDivergence) return p.first_divergence < 0 ? tr("none") : QString::number(p.first_divergence);
  if (m == Positions) return QString::number(p.positions);
  const double v = value(m, index.column());
  if (std::isnan(v)) return tr("n/a");
  return QString::number(v, 'f', (m == PerplexityA || m == PerplexityB) ? 2 : 4);
}

QVariant CompareMetricsModel::headerData(int section, Qt::Orientation o, int role) const {
  if (role != Qt::DisplayRole) return {};
  if (o == Qt::Vertical) return section >= 0 && section < rowCount() ? metricName(section) : QVariant();
  if (section < 0 || section >= columnCount()) return {};
  const PairComparison& p = m_result.pairs[size_t(section)];
  return tr("run %1 vs run %2").arg(QString::fromStdString(m_result.runs[size_t(p.a)].name),
                                     QString::fromStdString(m_result.runs[size_t(p.b)].name));
}

}  // namespace moescope::views
