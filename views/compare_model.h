// CompareMetricsModel: the compare view's metrics table. Columns are the compared pairs ("A vs B"),
// rows the metrics of strat's ComparisonResult (probes/comparison/comparison.h; definitions in
// docs/strategies.md, "Comparison metrics"): routing Jaccard, top-1 expert agreement, load JS,
// dropped shares, KL of the next-token distributions, top-1 token agreement, first divergence and each
// run's perplexity. DisplayRole is formatted text, ValueRole the raw number (NaN when not available).
#pragma once
#include <QAbstractTableModel>

#include "probes/comparison/comparison.h"

namespace moescope::views {

class CompareMetricsModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Roles { ValueRole = Qt::UserRole + 1 };
  enum Metric {
    StrategyA, StrategyB, Positions, Jaccard, Top1ExpertAgreement, LoadJs, DroppedA, DroppedB, KlMean, KlMax,
    Top1TokenAgreement, FirstDivergence, PerplexityA, PerplexityB, MetricCount
  };
  explicit CompareMetricsModel(QObject* parent = nullptr);

  void setResult(const ComparisonResult& result);
  const ComparisonResult& result() const { return m_result; }
  static QString metricName(int metric);
  // Raw value of a metric for pair p (NaN where not available; strategies give NaN).
  double value(int metric, int pair) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

 private:
  ComparisonResult m_result;
};

}  // namespace moescope::views
