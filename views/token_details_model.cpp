// TokenDetailsModel (see token_details_model.h).
#include "views/token_details_model.h"

#include <algorithm>

#include "views/routing_math.h"

namespace moescope::views {

TokenDetailsModel::TokenDetailsModel(QObject* parent) : QAbstractTableModel(parent) {}

bool TokenDetailsModel::valid() const { return m_run && m_token >= 0 && m_token < m_run->num_tokens(); }

void TokenDetailsModel::setSnapshot(RunSnapshot run) {
  beginResetModel();
  m_run = std::move(run);
  endResetModel();
}

void TokenDetailsModel::setToken(int token) {
  beginResetModel();
  m_token = token;
  endResetModel();
}

int TokenDetailsModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() || !valid() ? 0 : m_run->num_moe_layers();
}

int TokenDetailsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant TokenDetailsModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount) return {};
  if (role != Qt::DisplayRole && role != Qt::UserRole) return {};
  const RunData& run = *m_run;
  const int l = index.row();
  const int32_t* ex = run.experts_at(m_token, l);
  const float* w = run.weights_at(m_token, l);
  QStringList experts, weights;
  for (int k = 0; k < run.k_max; ++k)
    if (ex[k] >= 0) {
      experts << QStringLiteral("E%1").arg(ex[k]);
      weights << QString::number(double(w[k]), 'f', 3);
    }
  switch (index.column()) {
    case LayerColumn:
      return run.moe_layers[size_t(l)];
    case ExpertsColumn:
      return experts.isEmpty() ? QStringLiteral("-") : experts.join(QStringLiteral(", "));
    case WeightsColumn:
      return weights.isEmpty() ? QStringLiteral("-") : weights.join(QStringLiteral(", "));
    case TopProbabilityColumn: {
      const auto p = router_probabilities(run, m_token, l);
      const double top = p.empty() ? 0.0 : double(*std::max_element(p.begin(), p.end()));
      return role == Qt::UserRole ? QVariant(top) : QVariant(QString::number(top, 'f', 3));
    }
    case DroppedColumn: {
      const bool d = !run.dropped.empty() && run.dropped_at(m_token, l);
      return role == Qt::UserRole ? QVariant(d) : QVariant(d ? QStringLiteral("dropped") : QString());
    }
  }
  return {};
}

QVariant TokenDetailsModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (role != Qt::DisplayRole || orientation != Qt::Horizontal) return {};
  switch (section) {
    case LayerColumn: return QStringLiteral("Layer");
    case ExpertsColumn: return QStringLiteral("Chosen experts");
    case WeightsColumn: return QStringLiteral("Weights");
    case TopProbabilityColumn: return QStringLiteral("Top prob.");
    case DroppedColumn: return QStringLiteral("Capacity drop");
  }
  return {};
}

}  // namespace moescope::views
