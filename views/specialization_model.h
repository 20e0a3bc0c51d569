// SpecializationModel: expert x category table of one MoE layer for the specialisation map. Rows are
// experts (in the chosen sort order), columns are categories: the runs' prompt labels (e.g. the demo
// suite's python / c / prose / csv) or token classes (word, number, ...). Values come from
// probes/metrics/specialization.h: normalised PMI (DisplayRole / NpmiRole), counts, p(e | c) and lift.
// Also holds each expert's most frequent tokens over all runs.
#pragma once
#include <QAbstractTableModel>
#include <vector>

#include "probes/metrics/specialization.h"
#include "probes/run_data.h"

namespace moescope::views {

enum class SpecSort { ExpertId, MaxNpmi, Category };

// Expert order for a matrix: by id; by each expert's largest nPMI over categories (descending, ties by
// id); or by one category's nPMI (descending, ties by id).
std::vector<int> specialization_order(const metrics::CategoryMatrix& m, SpecSort sort, int category = 0);
// p(e | c): share of category c's selections that went to expert e, [C, E] (0 for empty rows).
std::vector<double> share_given_category(const metrics::CategoryMatrix& m);
// The n experts category c selects most often (ties: smaller id), as in the demo README's table.
std::vector<int> top_experts(const metrics::CategoryMatrix& m, int category, int n);

class SpecializationModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum class Source { Labels, TokenClasses };
  enum Roles { NpmiRole = Qt::UserRole + 1, CountRole, ShareRole, LiftRole, ExpertRole, TopExpertRole };

  explicit SpecializationModel(QObject* parent = nullptr);

  void setRuns(std::vector<RunSnapshot> runs);
  void setLayer(int moe_layer);
  void setSource(Source s);
  void setSort(SpecSort sort, int category = 0);
  void setTop1Only(bool on);

  const std::vector<RunSnapshot>& runs() const { return m_runs; }
  int layer() const { return m_layer; }
  int numLayers() const;
  Source source() const { return m_source; }
  SpecSort sort() const { return m_sort; }
  int sortCategory() const { return m_sort_category; }
  const metrics::CategoryMatrix& matrix() const { return m_matrix; }
  int expertAt(int row) const { return row >= 0 && row < int(m_order.size()) ? m_order[size_t(row)] : -1; }
  // Largest |nPMI| in the table (the colour scale's half range), at least 0.05.
  double npmiScale() const;
  // Most frequent tokens of `expert` over all runs at the current layer (top-ranked n).
  std::vector<metrics::TopToken> topTokens(int expert) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;
  void sort(int column, Qt::SortOrder order = Qt::AscendingOrder) override;

 private:
  void recompute();
  std::vector<RunSnapshot> m_runs;
  int m_layer = 0;
  Source m_source = Source::Labels;
  SpecSort m_sort = SpecSort::ExpertId;
  int m_sort_category = 0;
  bool m_top1 = false;
  metrics::CategoryMatrix m_matrix;
  std::vector<double> m_share;
  std::vector<std::vector<int>> m_top;  // [C] two most used experts
  std::vector<int> m_order;
  std::vector<std::vector<metrics::TopToken>> m_tokens;  // [E]
};

}  // namespace moescope::views
