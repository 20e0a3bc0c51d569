// Prompt and generated tokens as chips in reading order, each filled with the colour of the expert
// the router ranked first at the selected layer (legend below). Prompt chips have a solid border,
// generated ones a dashed border; a click on a chip emits tokenClicked. The flow layout is a pure
// function (flow_layout) so tests can check chip placement without painting.
#pragma once
#include <QRect>
#include <QWidget>
#include <vector>

#include "probes/run_data.h"

namespace moescope::views {

// Lays out boxes of the given widths left to right, wrapping at `available_width`; a box that is
// wider than the line gets a line of its own. Returns one rect per box.
std::vector<QRect> flow_layout(const std::vector<int>& widths, int height, int available_width, int spacing);

class TokenChips : public QWidget {
  Q_OBJECT
 public:
  explicit TokenChips(QWidget* parent = nullptr);
  void setSnapshot(RunSnapshot run);
  void setLayer(int moe_layer);
  int layer() const { return m_layer; }
  void setSelectedToken(int token);
  // Chip rectangles for the current width (in widget coordinates), index = token.
  std::vector<QRect> chipRects() const;
  int tokenAt(const QPoint& pos) const;  // -1 outside every chip
  QSize sizeHint() const override;
  bool hasHeightForWidth() const override { return true; }
  int heightForWidth(int w) const override;

 signals:
  void tokenClicked(int token);

 protected:
  void paintEvent(QPaintEvent*) override;
  void mousePressEvent(QMouseEvent* e) override;
  bool event(QEvent* e) override;
  void resizeEvent(QResizeEvent* e) override;

 private:
  std::vector<QRect> layoutFor(int width, int* legend_top) const;
  QString chipText(int token) const;
  RunSnapshot m_run;
  int m_layer = 0;
  int m_selected = -1;
};

}  // namespace moescope::views
