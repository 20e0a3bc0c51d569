// ExpertLoadModel (see expert_load_model.h).
#include "views/expert_load_model.h"

#include <QBrush>

#include "views/palette.h"

namespace moescope::views {

ExpertLoadModel::ExpertLoadModel(QObject* parent) : QAbstractTableModel(parent) {}

void ExpertLoadModel::setSnapshot(RunSnapshot run) {
  beginResetModel();
  m_run = std::move(run);
  m_load = m_run ? expert_load(*m_run) : LoadTable{};
  m_k = m_run ? experts_per_token(*m_run) : 1;
  endResetModel();
}

void ExpertLoadModel::setCapacityFactor(double cf) {
  if (cf == m_cf) return;
  m_cf = cf;
  if (rowCount() > 0) emit dataChanged(index(0, 0), index(rowCount() - 1, columnCount() - 1));
}

double ExpertLoadModel::capacity() const { return expert_capacity(m_cf, m_load.tokens, m_k, m_load.experts); }

int ExpertLoadModel::layerIndex(int moe_layer) const {
  return m_run && moe_layer >= 0 && moe_layer < m_run->num_moe_layers() ? m_run->moe_layers[size_t(moe_layer)] : moe_layer;
}

int ExpertLoadModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : m_load.experts; }

int ExpertLoadModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() || m_load.experts == 0 ? 0 : m_load.layers + 1;
}

QVariant ExpertLoadModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount() || index.column() >= columnCount()) return {};
  const int e = index.row(), c = index.column();
  const bool total = c == m_load.layers;
  const qlonglong count = total ? m_load.expert_total(e) : m_load.at(c, e);
  const bool over = !total && double(count) > capacity();
  qlonglong denom = 0;
  if (total)
    for (int l = 0; l < m_load.layers; ++l) denom += m_load.layer_total(l);
  else
    denom = m_load.layer_total(c);
  const double share = denom > 0 ? double(count) / double(denom) : 0.0;
  switch (role) {
    case Qt::DisplayRole:
      return QString::number(count);
    case CountRole:
      return count;
    case OverCapacityRole:
      return over;
    case ShareRole:
      return share;
    case Qt::ForegroundRole:
      return over ? QBrush(dropped_mark_colour()) : QVariant();
    case Qt::ToolTipRole:
      return total ? QStringLiteral("expert %1: %2 token slots over all layers (%3%)").arg(e).arg(count).arg(share * 100, 0, 'f', 1)
                   : QStringLiteral("expert %1, layer %2: %3 tokens (%4%), capacity %5%6")
                         .arg(e)
                         .arg(layerIndex(c))
                         .arg(count)
                         .arg(share * 100, 0, 'f', 1)
                         .arg(capacity(), 0, 'f', 2)
                         .arg(over ? QStringLiteral(", OVER by %1").arg(double(count) - capacity(), 0, 'f', 2) : QString());
    default:
      return {};
  }
}

QVariant ExpertLoadModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (role != Qt::DisplayRole || section < 0) return {};
  if (orientation == Qt::Vertical) return section < rowCount() ? QVariant(QStringLiteral("E%1").arg(section)) : QVariant();
  if (section >= columnCount()) return {};
  if (section == m_load.layers) return QStringLiteral("Total");
  return QStringLiteral("L%1").arg(layerIndex(section));
}

}  // namespace moescope::views
