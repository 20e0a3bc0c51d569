// Heatmap cell <-> point mapping (see heatmap_geometry.h).
#include "views/heatmap_geometry.h"

#include <algorithm>
#include <cmath>

namespace moescope::views {

HeatmapGeometry::HeatmapGeometry(int columns, int rows, double cell_width, double cell_height, double left,
                                 double top)
    : m_columns(std::max(0, columns)),
      m_rows(std::max(0, rows)),
      m_cell_w(cell_width > 0 ? cell_width : 1),
      m_cell_h(cell_height > 0 ? cell_height : 1),
      m_left(left),
      m_top(top) {}

std::optional<int> HeatmapGeometry::column_at(double x) const {
  if (!(x >= m_left)) return std::nullopt;  // also rejects NaN
  const double c = std::floor((x - m_left) / m_cell_w);
  if (c >= m_columns) return std::nullopt;
  return int(c);
}

std::optional<Cell> HeatmapGeometry::cell_at(double x, double y) const {
  const auto c = column_at(x);
  if (!c || !(y >= m_top)) return std::nullopt;
  const double r = std::floor((y - m_top) / m_cell_h);
  if (r >= m_rows) return std::nullopt;
  return Cell{*c, int(r)};
}

CellRect HeatmapGeometry::cell_rect(int column, int row) const {
  return {m_left + column * m_cell_w, m_top + row * m_cell_h, m_cell_w, m_cell_h};
}

void HeatmapGeometry::visible_columns(double x0, double x1, int& first, int& last) const {
  first = std::max(0, int(std::floor((x0 - m_left) / m_cell_w)));
  last = std::min(m_columns - 1, int(std::ceil((x1 - m_left) / m_cell_w)) - 1);
}

}  // namespace moescope::views
