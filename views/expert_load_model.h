// Item model of expert load: rows are experts, columns are MoE layers plus a session total.
// A cell holds how many token slots the router sent to the expert at that layer; cells above the
// capacity C = CF * T * k / E are flagged (OverCapacityRole), so the chart and the table agree.
#pragma once
#include <QAbstractTableModel>

#include "probes/run_data.h"
#include "views/routing_math.h"

namespace moescope::views {

class ExpertLoadModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Role {
    CountRole = Qt::UserRole + 1,  // qlonglong tokens routed
    OverCapacityRole,              // bool (layer columns only)
    ShareRole,                     // double: count / tokens routed at the layer (or in total)
  };
  explicit ExpertLoadModel(QObject* parent = nullptr);

  void setSnapshot(RunSnapshot run);
  void setCapacityFactor(double cf);
  double capacityFactor() const { return m_cf; }
  double capacity() const;  // per expert per layer, for the current snapshot
  const LoadTable& load() const { return m_load; }
  int totalColumn() const { return m_load.layers; }
  int layerIndex(int moe_layer) const;  // model layer index of a MoE layer

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  RunSnapshot m_run;
  LoadTable m_load;
  int m_k = 1;
  double m_cf = 1.0;
};

}  // namespace moescope::views
