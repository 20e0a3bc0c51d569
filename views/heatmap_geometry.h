// Pure geometry of a heatmap: which cell lies under a point, where a cell is drawn, which columns a
// viewport shows. Columns are tokens (left to right, in sequence order), rows are experts or layers
// (top to bottom). No Qt: the widget converts to QRect, tests check the arithmetic directly.
#pragma once
#include <optional>

namespace moescope::views {

struct CellRect {
  double x = 0, y = 0, w = 0, h = 0;
};

struct Cell {
  int column = 0;  // token
  int row = 0;     // expert or layer
  bool operator==(const Cell&) const = default;
};

class HeatmapGeometry {
 public:
  HeatmapGeometry() = default;
  // `left`/`top` place the grid's top-left corner in widget coordinates.
  HeatmapGeometry(int columns, int rows, double cell_width, double cell_height, double left, double top);

  int columns() const { return m_columns; }
  int rows() const { return m_rows; }
  double cell_width() const { return m_cell_w; }
  double cell_height() const { return m_cell_h; }
  CellRect grid() const { return {m_left, m_top, m_columns * m_cell_w, m_rows * m_cell_h}; }

  // The cell under (x, y); cells are half-open [x0, x0 + w), so a shared edge belongs to the
  // right/lower cell. Outside the grid: nullopt.
  std::optional<Cell> cell_at(double x, double y) const;
  // Column under x regardless of y (for clicks on the token labels); nullopt outside the grid's span.
  std::optional<int> column_at(double x) const;
  CellRect cell_rect(int column, int row) const;
  // Centre of a column / row, where its axis label goes.
  double column_centre(int column) const { return m_left + (column + 0.5) * m_cell_w; }
  double row_centre(int row) const { return m_top + (row + 0.5) * m_cell_h; }
  // Columns intersecting [x0, x1) clamped to the grid, as [first, last]; first > last when none.
  void visible_columns(double x0, double x1, int& first, int& last) const;

 private:
  int m_columns = 0, m_rows = 0;
  double m_cell_w = 1, m_cell_h = 1, m_left = 0, m_top = 0;
};

}  // namespace moescope::views
