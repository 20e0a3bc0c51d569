// MatrixHeatmap: a self-explaining heatmap of any [rows, cols] matrix of numbers, used by the drift
// view (expert -> expert transition matrices), the specialisation map (expert x category nPMI) and the
// compare view (router probabilities of each strategy, their difference, routing agreement). Title,
// subtitle, axis titles, row/column labels and a colour bar (sequential or diverging about 0) are part
// of the picture; cells can print their values and carry outlines (e.g. "top experts of a category");
// one column can be marked (e.g. the first divergent token). Cell placement uses HeatmapGeometry.
#pragma once
#include <QStringList>
#include <QWidget>
#include <functional>
#include <vector>

#include "views/heatmap_geometry.h"

namespace moescope::views {

struct MatrixSpec {
  QString title, subtitle;          // what a cell is; how to read it
  QString x_title, y_title, bar_title;
  int rows = 0, cols = 0;
  std::vector<double> values;       // [rows, cols] row-major
  QStringList row_labels, col_labels;
  bool diverging = false;           // colour = diverging about 0 over [-range, range]; else sequential [0, range]
  double range = 1.0;
  bool show_values = false;         // print values in cells (when they fit)
  int decimals = 2;
  std::vector<uint8_t> outline;     // [rows, cols] optional: 1 = strong outline, 2 = thin outline
  QString outline_legend;           // explains the outlines (drawn under the title)
  int marker_column = -1;           // vertical marker before this column (e.g. first divergent token)
  QString marker_label;
  bool rotate_col_labels = false;   // token labels: rotated; categories: horizontal
  int fixed_cell_width = 0;         // > 0: cells this wide regardless of the widget width (scrolling strips)
  int fixed_cell_height = 0;
  int left_margin = 0;              // > 0: fixed left margin (aligns the columns of stacked heatmaps)
  std::function<QString(int row, int col)> tooltip;
};

// Colour of value v under a spec's scale (exposed for tests and legends).
QColor matrix_colour(const MatrixSpec& spec, double v);

class MatrixHeatmap : public QWidget {
  Q_OBJECT
 public:
  explicit MatrixHeatmap(QWidget* parent = nullptr);
  void setSpec(MatrixSpec spec);
  const MatrixSpec& spec() const { return m_spec; }
  HeatmapGeometry geometry_for_size(const QSize& size) const;
  HeatmapGeometry currentGeometry() const { return geometry_for_size(size()); }
  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;
  int leftMargin() const;

 signals:
  void cellClicked(int row, int col);

 protected:
  void paintEvent(QPaintEvent*) override;
  bool event(QEvent* e) override;
  void mousePressEvent(QMouseEvent* e) override;

 private:
  int topMargin() const;
  int bottomMargin() const;
  int rightMargin() const;
  void paintColourBar(QPainter& p, const QRect& area) const;

  MatrixSpec m_spec;
};

}  // namespace moescope::views
