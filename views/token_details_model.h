// Item model of one token's routing across layers: one row per MoE layer with the experts the router
// chose (rank order), their weights, the top router probability and whether capacity dropped it.
#pragma once
#include <QAbstractTableModel>

#include "probes/run_data.h"

namespace moescope::views {

class TokenDetailsModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { LayerColumn, ExpertsColumn, WeightsColumn, TopProbabilityColumn, DroppedColumn, ColumnCount };
  explicit TokenDetailsModel(QObject* parent = nullptr);

  void setSnapshot(RunSnapshot run);
  void setToken(int token);  // -1 = none
  int token() const { return m_token; }
  RunSnapshot snapshot() const { return m_run; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  bool valid() const;
  RunSnapshot m_run;
  int m_token = -1;
};

}  // namespace moescope::views
