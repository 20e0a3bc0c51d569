// DriftView: how routing changes across layers and across the sequence, for a live run or a saved
// trace (RunSnapshot). "Across layers": the row-normalised expert -> expert transition matrix of one
// pair of consecutive MoE layers with its conditional entropy H(e_l+1 | e_l), and the token flow
// picture (FlowView). "Across time": expert load per window over the sequence (stacked area), the
// window-to-window JS divergence of the load per layer, and token-id consistency per layer. Metrics
// from probes/metrics/drift.h (docs/metrics.md, "Drift").
#pragma once
#include <QWidget>

#include "probes/run_data.h"

class QCheckBox;
class QComboBox;
class QSpinBox;
class QTabWidget;
class QLabel;
class QChartView;

namespace moescope::views {

class MatrixHeatmap;
class FlowView;

class DriftView : public QWidget {
  Q_OBJECT
 public:
  explicit DriftView(QWidget* parent = nullptr);

  void setSnapshot(RunSnapshot run);
  RunSnapshot snapshot() const { return m_run; }
  void setLayerPair(int from_moe_layer);   // transition heatmap shows from -> from + 1
  void setLoadLayer(int moe_layer);        // stacked-area chart's layer
  void setWindow(int tokens);              // 0 = automatic (about 12 windows)
  void setTop1Only(bool on);

  int layerPair() const { return m_pair; }
  int loadLayer() const { return m_load_layer; }
  int effectiveWindow() const;
  QTabWidget* tabs() const { return m_tabs; }
  MatrixHeatmap* transitionHeatmap() const { return m_heatmap; }
  FlowView* flowView() const { return m_flow; }
  QChartView* loadChart() const { return m_load_chart; }
  QChartView* divergenceChart() const { return m_js_chart; }
  QChartView* consistencyChart() const { return m_consistency_chart; }

 private:
  void refresh();
  void refreshLayers();
  void refreshTime();
  void syncCombos();

  RunSnapshot m_run;
  int m_pair = 0, m_load_layer = 0, m_window = 0;
  bool m_top1 = true;
  QTabWidget* m_tabs;
  QComboBox* m_pair_box;
  QComboBox* m_load_box;
  QSpinBox* m_window_box;
  QSpinBox* m_bands_box;
  QCheckBox* m_top1_box;
  MatrixHeatmap* m_heatmap;
  FlowView* m_flow;
  QChartView* m_load_chart;
  QChartView* m_js_chart;
  QChartView* m_consistency_chart;
};

}  // namespace moescope::views
