// Routing heatmap widget: tokens (columns, sequence order) x experts of one layer (router
// probability, white->navy; chosen experts outlined; capacity-dropped tokens marked) or tokens x
// layers (top-1 expert as a categorical colour). Painted from a QImage with one pixel per cell,
// scaled without smoothing; axis labels, a title and a colour bar / legend make it self-explaining.
// Hover shows the exact values (the model's tooltip); a click on a column emits tokenClicked.
#pragma once
#include <QImage>
#include <QWidget>

#include "views/heatmap_geometry.h"

namespace moescope::views {

class RoutingTableModel;

// One pixel per (token, row) cell: x = token, y = expert (Experts mode) or MoE layer (Layers mode).
QImage heatmap_image(const RoutingTableModel& model);

class RoutingHeatmap : public QWidget {
  Q_OBJECT
 public:
  explicit RoutingHeatmap(RoutingTableModel* model, QWidget* parent = nullptr);

  RoutingTableModel* model() const { return m_model; }
  // Geometry of the grid for the current size (what paintEvent uses; tests map points through it).
  HeatmapGeometry geometry_for_size(const QSize& size) const;
  HeatmapGeometry currentGeometry() const { return geometry_for_size(size()); }
  void setSelectedToken(int token);
  int selectedToken() const { return m_selected; }
  // The painted area (title, axes, grid, colour bar / legend) for the current size: where a
  // screenshot should be cropped.
  QRect contentRect() const;
  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 signals:
  void tokenClicked(int token);

 protected:
  void paintEvent(QPaintEvent*) override;
  bool event(QEvent* e) override;
  void mousePressEvent(QMouseEvent* e) override;

 private:
  void modelChanged();
  int leftMargin() const;
  int rightMargin() const;
  int bottomMargin() const;
  int topMargin() const;
  void paintColourBar(QPainter& p, const QRect& area) const;
  void paintLegend(QPainter& p, const QRect& area) const;

  RoutingTableModel* m_model;
  QImage m_image;
  int m_selected = -1;
};

}  // namespace moescope::views
