// Expert load view: for the chosen MoE layer, one bar per expert (tokens routed, Qt Charts) with the
// capacity line C = CF * T * k / E for an adjustable capacity factor; the part of a bar above C is
// red. Below: the load table (experts x layers + session total) and a one-line session summary.
#pragma once
#include <QWidget>
#include <memory>

#include "probes/run_data.h"

class QChart;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QSplitter;
class QTableView;

namespace moescope::views {

class ExpertLoadModel;
class StackedBarChart;

class ExpertLoadView : public QWidget {
  Q_OBJECT
 public:
  explicit ExpertLoadView(QWidget* parent = nullptr);
  ~ExpertLoadView() override;
  void setSnapshot(RunSnapshot run);
  void setLayer(int moe_layer);
  void setCapacityFactor(double cf);
  ExpertLoadModel* model() const { return m_model; }
  QChart* chart() const { return m_chart; }
  QString summaryText() const;

 protected:
  void resizeEvent(QResizeEvent* e) override;

 private:
  void rebuildChart();
  void updateSummary();
  ExpertLoadModel* m_model;
  QChart* m_chart;
  std::unique_ptr<StackedBarChart> m_bars;
  QComboBox* m_layer_combo;
  QDoubleSpinBox* m_cf_spin;
  QLabel* m_summary;
  QTableView* m_table;
  QSplitter* m_split;
  RunSnapshot m_run;
  int m_layer = 0;
};

}  // namespace moescope::views
