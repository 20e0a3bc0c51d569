// Details of one token: for the selected MoE layer, the router probability of every expert as a
// Qt Charts bar chart (chosen experts in orange), and a table with every layer's chosen experts,
// weights, top probability and capacity drops. Selecting a table row switches the chart's layer.
#pragma once
#include <QWidget>
#include <memory>

#include "probes/run_data.h"

class QChart;
class QLabel;
class QTableView;

namespace moescope::views {

class TokenDetailsModel;
class StackedBarChart;

class TokenDetailsView : public QWidget {
  Q_OBJECT
 public:
  explicit TokenDetailsView(QWidget* parent = nullptr);
  ~TokenDetailsView() override;
  void setSnapshot(RunSnapshot run);
  void setToken(int token);
  void setLayer(int moe_layer);
  int token() const;
  int layer() const { return m_layer; }
  TokenDetailsModel* model() const { return m_model; }
  QChart* chart() const { return m_chart; }

 private:
  void rebuild();
  TokenDetailsModel* m_model;
  QChart* m_chart;
  std::unique_ptr<StackedBarChart> m_bars;
  QLabel* m_header;
  QTableView* m_table;
  RunSnapshot m_run;
  int m_layer = 0;
};

}  // namespace moescope::views
