// RoutingTableModel (see routing_table_model.h).
#include "views/routing_table_model.h"

#include <algorithm>

#include "views/routing_math.h"

namespace moescope::views {

RoutingTableModel::RoutingTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void RoutingTableModel::setSnapshot(RunSnapshot run) {
  beginResetModel();
  m_run = std::move(run);
  if (m_run) m_layer = std::clamp(m_layer, 0, std::max(0, m_run->num_moe_layers() - 1));
  recompute();
  endResetModel();
}

void RoutingTableModel::setMode(Mode mode) {
  if (mode == m_mode) return;
  beginResetModel();
  m_mode = mode;
  endResetModel();
}

void RoutingTableModel::setLayer(int moe_layer) {
  const int max_layer = m_run ? std::max(0, m_run->num_moe_layers() - 1) : 0;
  moe_layer = std::clamp(moe_layer, 0, max_layer);
  if (moe_layer == m_layer) return;
  m_layer = moe_layer;
  recompute();
  if (m_mode == Mode::Experts && rowCount() > 0 && columnCount() > 0)
    emit dataChanged(index(0, 0), index(rowCount() - 1, columnCount() - 1));
  emit headerDataChanged(Qt::Horizontal, 0, std::max(0, columnCount() - 1));
}

void RoutingTableModel::recompute() {
  m_probs.clear();
  m_scale_max = 1.0;
  if (!m_run || m_run->num_moe_layers() == 0 || m_run->num_experts <= 0) return;
  const int n = m_run->num_tokens(), e = m_run->num_experts;
  m_probs.resize(size_t(n) * e);
  for (int t = 0; t < n; ++t) router_probabilities(*m_run, t, m_layer, m_probs.data() + size_t(t) * e);
  float mx = 0;
  for (float p : m_probs) mx = std::max(mx, p);
  m_scale_max = colour_scale_max(mx);
}

int RoutingTableModel::rowCount(const QModelIndex& parent) const {
  if (parent.isValid() || !m_run || m_run->num_moe_layers() == 0) return 0;
  return m_run->num_tokens();
}

int RoutingTableModel::columnCount(const QModelIndex& parent) const {
  if (parent.isValid() || !m_run || m_run->num_moe_layers() == 0) return 0;
  return m_mode == Mode::Experts ? m_run->num_experts : m_run->num_moe_layers();
}

QString RoutingTableModel::tokenLabel(const std::string& piece) {
  QString s = QString::fromStdString(piece);
  s.replace(QLatin1Char(' '), QChar(0x2423)).replace(QLatin1Char('\n'), QChar(0x21B5)).replace(QLatin1Char('\t'), QChar(0x21E5));
  if (s.isEmpty()) s = QStringLiteral("\u2205");
  return s;
}

QVariant RoutingTableModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount() || index.column() >= columnCount()) return {};
  const RunData& run = *m_run;
  const int t = index.row();
  const bool experts_mode = m_mode == Mode::Experts;
  const int layer = experts_mode ? m_layer : index.column();
  const bool dropped = !run.dropped.empty() && run.dropped_at(t, layer);
  const QString token = tokenLabel(size_t(t) < run.token_text.size() ? run.token_text[size_t(t)] : std::string());
  switch (role) {
    case Qt::DisplayRole:
      if (experts_mode) return QString::number(m_probs[size_t(t) * run.num_experts + index.column()], 'f', 3);
      return top1_expert(run, t, layer) < 0 ? QStringLiteral("-") : QStringLiteral("E%1").arg(top1_expert(run, t, layer));
    case ValueRole:
      if (experts_mode) return double(m_probs[size_t(t) * run.num_experts + index.column()]);
      return top1_expert(run, t, layer);
    case ChosenRole:
      return experts_mode && is_chosen(run, t, layer, index.column());
    case WeightRole:
      return experts_mode ? double(chosen_weight(run, t, layer, index.column())) : 0.0;
    case RankRole: {
      if (!experts_mode) return 0;
      const int32_t* ex = run.experts_at(t, layer);
      for (int k = 0; k < run.k_max; ++k)
        if (ex[k] == index.column()) return k;
      return -1;
    }
    case DroppedRole:
      return dropped;
    case IsPromptRole:
      return size_t(t) < run.is_prompt.size() && run.is_prompt[size_t(t)] != 0;
    case Qt::ToolTipRole: {
      const int model_layer = run.moe_layers[size_t(layer)];
      QString tip = QStringLiteral("token #%1 \u201c%2\u201d (id %3)%4\nlayer %5")
                        .arg(t)
                        .arg(token)
                        .arg(size_t(t) < run.token_ids.size() ? run.token_ids[size_t(t)] : -1)
                        .arg(size_t(t) < run.is_prompt.size() && run.is_prompt[size_t(t)] ? QStringLiteral(", prompt") : QString())
                        .arg(model_layer);
      if (experts_mode) {
        const int e = index.column();
        tip += QStringLiteral(", expert %1\nrouter %2: %3\nlogit: %4")
                   .arg(e)
                   .arg(QString::fromLatin1(score_kind_label(score_kind_for_family(run.family))))
                   .arg(double(m_probs[size_t(t) * run.num_experts + e]), 0, 'f', 6)
                   .arg(double(run.logits_at(t, layer)[e]), 0, 'f', 6);
        if (is_chosen(run, t, layer, e))
          tip += QStringLiteral("\nchosen, weight %1").arg(double(chosen_weight(run, t, layer, e)), 0, 'f', 6);
      } else {
        const int top = top1_expert(run, t, layer);
        tip += top < 0 ? QStringLiteral("\nno expert") : QStringLiteral("\ntop-1 expert %1").arg(top);
      }
      if (dropped) tip += QStringLiteral("\nDROPPED by capacity");
      return tip;
    }
    default:
      return {};
  }
}

QVariant RoutingTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (role != Qt::DisplayRole || !m_run || section < 0) return {};
  if (orientation == Qt::Vertical) {
    if (section >= m_run->num_tokens()) return {};
    return tokenLabel(size_t(section) < m_run->token_text.size() ? m_run->token_text[size_t(section)] : std::string());
  }
  if (section >= columnCount()) return {};
  if (m_mode == Mode::Experts) return QStringLiteral("E%1").arg(section);
  return QStringLiteral("L%1").arg(m_run->moe_layers[size_t(section)]);
}

}  // namespace moescope::views
