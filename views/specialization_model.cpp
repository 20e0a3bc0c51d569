// SpecializationModel (see specialization_model.h).
#include "views/specialization_model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace moescope::views {

std::vector<int> specialization_order(const metrics::CategoryMatrix& m, SpecSort sort, int category) {
  const int E = m.num_experts, C = int(m.categories.size());
  std::vector<int> order(size_t(std::max(E, 0)));
  std::iota(order.begin(), order.end(), 0);
  if (sort == SpecSort::ExpertId || C == 0 || m.npmi.size() != size_t(C) * size_t(E)) return order;
  std::vector<double> key(size_t(E), -2.0);
  for (int e = 0; e < E; ++e) {
    if (sort == SpecSort::MaxNpmi) {
      for (int c = 0; c < C; ++c) key[size_t(e)] = std::max(key[size_t(e)], m.npmi[size_t(c) * E + e]);
    } else {
      const int c = std::clamp(category, 0, C - 1);
      key[size_t(e)] = m.npmi[size_t(c) * E + e];
    }
  }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key[size_t(a)] > key[size_t(b)]; });
  return order;
}

std::vector<double> share_given_category(const metrics::CategoryMatrix& m) {
  const int E = m.num_experts, C = int(m.categories.size());
  std::vector<double> out(size_t(C) * size_t(E), 0.0);
  for (int c = 0; c < C; ++c) {
    int64_t sum = 0;
    for (int e = 0; e < E; ++e) sum += m.count(c, e);
    if (sum > 0)
      for (int e = 0; e < E; ++e) out[size_t(c) * E + e] = double(m.count(c, e)) / double(sum);
  }
  return out;
}

std::vector<int> top_experts(const metrics::CategoryMatrix& m, int c, int n) {
  std::vector<int> order(size_t(std::max(m.num_experts, 0)));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return m.count(c, a) > m.count(c, b); });
  std::vector<int> out;
  for (int e : order) {
    if (int(out.size()) >= n || m.count(c, e) == 0) break;
    out.push_back(e);
  }
  return out;
}

SpecializationModel::SpecializationModel(QObject* parent) : QAbstractTableModel(parent) {}

int SpecializationModel::numLayers() const {
  int m = 0;
  for (const auto& r : m_runs) m = std::max(m, r->num_moe_layers());
  return m;
}

void SpecializationModel::setRuns(std::vector<RunSnapshot> runs) {
  m_runs.clear();
  for (auto& r : runs)
    if (r) m_runs.push_back(std::move(r));
  if (m_layer >= numLayers()) m_layer = std::max(0, numLayers() - 1);
  recompute();
}

void SpecializationModel::setLayer(int l) {
  m_layer = std::clamp(l, 0, std::max(0, numLayers() - 1));
  recompute();
}

void SpecializationModel::setSource(Source s) {
  m_source = s;
  m_sort_category = 0;
  recompute();
}

void SpecializationModel::setSort(SpecSort sort, int category) {
  m_sort = sort;
  m_sort_category = category;
  recompute();
}

void SpecializationModel::setTop1Only(bool on) {
  m_top1 = on;
  recompute();
}

void SpecializationModel::sort(int column, Qt::SortOrder) { setSort(SpecSort::Category, column); }

void SpecializationModel::recompute() {
  beginResetModel();
  m_matrix = {};
  m_tokens.clear();
  metrics::SpecializationOptions opt;
  opt.top1_only = m_top1;
  if (!m_runs.empty() && m_layer < numLayers()) {
    if (m_source == Source::Labels) {
      std::vector<const RunData*> raw;
      for (const auto& r : m_runs) raw.push_back(r.get());
      m_matrix = metrics::label_matrix(raw, m_layer, opt);
    } else {
      for (const auto& r : m_runs) {
        if (m_layer >= r->num_moe_layers()) continue;
        metrics::CategoryMatrix one = metrics::token_class_matrix(*r, m_layer, opt);
        if (m_matrix.categories.empty()) {
          m_matrix = one;
        } else if (one.num_experts == m_matrix.num_experts) {
          for (size_t i = 0; i < one.counts.size(); ++i) m_matrix.counts[i] += one.counts[i];
        }
      }
      m_matrix.finish();
    }
    // Most frequent tokens per expert, merged over runs by token id.
    const int E = m_matrix.num_experts;
    std::vector<std::map<int64_t, metrics::TopToken>> merged(static_cast<size_t>(E));
    for (const auto& r : m_runs) {
      if (m_layer >= r->num_moe_layers()) continue;
      const auto per = metrics::top_tokens_per_expert(*r, m_layer, 64, opt);
      for (int e = 0; e < E && e < int(per.size()); ++e)
        for (const auto& t : per[size_t(e)]) {
          auto& slot = merged[size_t(e)][t.id];
          slot.id = t.id;
          slot.text = t.text;
          slot.count += t.count;
        }
    }
    m_tokens.resize(size_t(E));
    for (int e = 0; e < E; ++e) {
      for (auto& kv : merged[size_t(e)]) m_tokens[size_t(e)].push_back(kv.second);
      std::stable_sort(m_tokens[size_t(e)].begin(), m_tokens[size_t(e)].end(),
                       [](const auto& a, const auto& b) { return a.count > b.count; });
    }
  }
  m_share = share_given_category(m_matrix);
  m_top.clear();
  for (int c = 0; c < int(m_matrix.categories.size()); ++c) m_top.push_back(top_experts(m_matrix, c, 2));
  m_order = specialization_order(m_matrix, m_sort, m_sort_category);
  endResetModel();
}

double SpecializationModel::npmiScale() const {
  double s = 0.05;
  for (double v : m_matrix.npmi)
    if (std::isfinite(v) && v > -1.0) s = std::max(s, std::abs(v));  // -1 marks empty cells
  return std::min(1.0, s);
}

std::vector<metrics::TopToken> SpecializationModel::topTokens(int expert) const {
  if (expert < 0 || expert >= int(m_tokens.size())) return {};
  return m_tokens[size_t(expert)];
}

int SpecializationModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() || m_matrix.categories.empty() ? 0 : int(m_order.size());
}

int SpecializationModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : int(m_matrix.categories.size());
}

QVariant SpecializationModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount() || index.column() >= columnCount()) return {};
  const int e = m_order[size_t(index.row())], c = index.column(), E = m_matrix.num_experts;
  const size_t i = size_t(c) * E + e;
  const double npmi = m_matrix.npmi[i];
  switch (role) {
    case Qt::DisplayRole:
      return QString::number(npmi, 'f', 2);
    case NpmiRole:
      return npmi;
    case CountRole:
      return qlonglong(m_matrix.counts[i]);
    case ShareRole:
      return m_share[i];
    case LiftRole:
      return m_matrix.lift[i];
    case ExpertRole:
      return e;
    case TopExpertRole: {
      const auto& top = m_top[size_t(c)];
      const auto it = std::find(top.begin(), top.end(), e);
      return it == top.end() ? 0 : int(it - top.begin()) + 1;  // 1 = most used, 2 = second
    }
    case Qt::ToolTipRole:
      return QStringLiteral("expert %1, %2\nnPMI %3\nselections %4 (%5% of %2's selections, lift %6\u00d7 vs uniform)")
          .arg(e)
          .arg(QString::fromStdString(m_matrix.categories[size_t(c)]))
          .arg(npmi, 0, 'f', 3)
          .arg(m_matrix.counts[i])
          .arg(100.0 * m_share[i], 0, 'f', 1)
          .arg(m_matrix.lift[i], 0, 'f', 2);
    case Qt::TextAlignmentRole:
      return int(Qt::AlignCenter);
    default:
      return {};
  }
}

QVariant SpecializationModel::headerData(int section, Qt::Orientation o, int role) const {
  if (role != Qt::DisplayRole) return {};
  if (o == Qt::Horizontal) {
    if (section < 0 || section >= columnCount()) return {};
    return QString::fromStdString(m_matrix.categories[size_t(section)]);
  }
  if (section < 0 || section >= rowCount()) return {};
  return QStringLiteral("E%1").arg(m_order[size_t(section)]);
}

}  // namespace moescope::views
