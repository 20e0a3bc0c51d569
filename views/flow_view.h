// FlowView: the drift view's picture of the paths tokens take through the MoE layers (Sankey-like):
// one column per MoE layer, one node per expert sized by its top-1 load, bands for the most frequent
// top-1 transitions between consecutive layers (coloured by the source expert); the share of
// transitions left out is printed under each gap so the picture never overstates what it shows.
#pragma once
#include <QWidget>

#include "probes/run_data.h"
#include "views/flow_layout.h"

namespace moescope::views {

class FlowView : public QWidget {
  Q_OBJECT
 public:
  explicit FlowView(QWidget* parent = nullptr);
  void setSnapshot(RunSnapshot run);
  void setTopBands(int n);
  int topBands() const { return m_top_bands; }
  // Layout in the plot area's own coordinates (y from 0 at the top of the nodes).
  FlowLayout currentLayout() const;
  QSize sizeHint() const override { return {900, 520}; }
  QSize minimumSizeHint() const override { return {420, 300}; }

 protected:
  void paintEvent(QPaintEvent*) override;

 private:
  QRect plotRect() const;
  RunSnapshot m_run;
  int m_top_bands = 12;
};

}  // namespace moescope::views
