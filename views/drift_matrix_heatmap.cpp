// MatrixHeatmap painting (see drift_matrix_heatmap.h).
#include "views/drift_matrix_heatmap.h"

#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <algorithm>
#include <cmath>

#include "views/palette.h"
#include "views/specialization_colours.h"

namespace moescope::views {

namespace {
constexpr int kMinCell = 12, kMaxCellW = 90, kMaxCellH = 40;
constexpr int kBarWidth = 14;
}  // namespace

QColor matrix_colour(const MatrixSpec& spec, double v) {
  const double r = spec.range > 0 ? spec.range : 1.0;
  if (std::isnan(v)) return QColor(0xee, 0xee, 0xee);
  return spec.diverging ? diverging_colour(v / r) : sequential_colour(v / r);
}

MatrixHeatmap::MatrixHeatmap(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setBackgroundRole(QPalette::Base);
  setAutoFillBackground(true);
}

void MatrixHeatmap::setSpec(MatrixSpec spec) {
  m_spec = std::move(spec);
  updateGeometry();
  update();
}

int MatrixHeatmap::leftMargin() const {
  if (m_spec.left_margin > 0) return m_spec.left_margin;
  int w = 0;
  for (const QString& s : m_spec.row_labels) w = std::max(w, fontMetrics().horizontalAdvance(s));
  return w + 10 + (m_spec.y_title.isEmpty() ? 0 : fontMetrics().height() + 8);
}

int MatrixHeatmap::topMargin() const {
  int lines = 1 + (m_spec.subtitle.isEmpty() ? 0 : int(m_spec.subtitle.count(QLatin1Char('\n'))) + 1) +
              (m_spec.outline_legend.isEmpty() ? 0 : 1);
  return lines * (fontMetrics().height() + 2) + 10 + (m_spec.marker_column >= 0 ? fontMetrics().height() : 0);
}

int MatrixHeatmap::bottomMargin() const {
  const QFontMetrics fm = fontMetrics();
  int label = fm.height();
  if (m_spec.rotate_col_labels) {
    int w = 0;
    for (const QString& s : m_spec.col_labels) w = std::max(w, fm.horizontalAdvance(s));
    label = std::min(w, fm.horizontalAdvance(QStringLiteral("mmmmmmmm")));
  }
  return label + 10 + (m_spec.x_title.isEmpty() ? 0 : fm.height() + 6);
}

int MatrixHeatmap::rightMargin() const { return m_spec.bar_title.isEmpty() ? 16 : 100; }

HeatmapGeometry MatrixHeatmap::geometry_for_size(const QSize& size) const {
  const int cols = m_spec.cols, rows = m_spec.rows;
  const int aw = size.width() - leftMargin() - rightMargin(), ah = size.height() - topMargin() - bottomMargin();
  int cw = m_spec.fixed_cell_width > 0 ? m_spec.fixed_cell_width
                                       : (cols > 0 ? std::clamp(aw / cols, kMinCell, kMaxCellW) : kMinCell);
  int ch = m_spec.fixed_cell_height > 0 ? m_spec.fixed_cell_height
                                        : (rows > 0 ? std::clamp(ah / rows, kMinCell, kMaxCellH) : kMinCell);
  return HeatmapGeometry(cols, rows, cw, ch, leftMargin(), topMargin());
}

QSize MatrixHeatmap::sizeHint() const {
  const int cw = m_spec.fixed_cell_width > 0 ? m_spec.fixed_cell_width : 32;
  const int ch = m_spec.fixed_cell_height > 0 ? m_spec.fixed_cell_height : 22;
  return {leftMargin() + rightMargin() + std::max(1, m_spec.cols) * cw,
          topMargin() + bottomMargin() + std::max(1, m_spec.rows) * ch};
}

QSize MatrixHeatmap::minimumSizeHint() const {
  const int cw = m_spec.fixed_cell_width > 0 ? m_spec.fixed_cell_width : kMinCell;
  const int ch = m_spec.fixed_cell_height > 0 ? m_spec.fixed_cell_height : kMinCell;
  return {leftMargin() + rightMargin() + std::max(1, m_spec.cols) * cw,
          std::max(topMargin() + bottomMargin() + std::max(1, m_spec.rows) * ch, m_spec.bar_title.isEmpty() ? 0 : 160)};
}

void MatrixHeatmap::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), Qt::white);
  const QFontMetrics fm = fontMetrics();
  const int line = fm.height() + 2;
  QFont bold = font();
  bold.setBold(true);
  p.setFont(bold);
  p.setPen(Qt::black);
  p.drawText(QRect(8, 4, width() - 16, line), Qt::AlignLeft | Qt::AlignVCenter, m_spec.title);
  p.setFont(font());
  int y = 4 + line;
  p.setPen(QColor(0x44, 0x44, 0x44));
  if (!m_spec.subtitle.isEmpty()) {
    for (const QString& s : m_spec.subtitle.split(QLatin1Char('\n'))) {
      p.drawText(QRect(8, y, width() - 16, line), Qt::AlignLeft | Qt::AlignVCenter, s);
      y += line;
    }
  }
  if (!m_spec.outline_legend.isEmpty()) {
    p.drawText(QRect(8, y, width() - 16, line), Qt::AlignLeft | Qt::AlignVCenter, m_spec.outline_legend);
    y += line;
  }
  if (m_spec.rows <= 0 || m_spec.cols <= 0 || m_spec.values.size() < size_t(m_spec.rows) * m_spec.cols) {
    p.drawText(QRect(8, y, width() - 16, line), Qt::AlignLeft | Qt::AlignVCenter, QStringLiteral("(no data yet)"));
    return;
  }
  const HeatmapGeometry g = currentGeometry();
  const CellRect gr = g.grid();
  for (int r = 0; r < m_spec.rows; ++r)
    for (int c = 0; c < m_spec.cols; ++c) {
      const CellRect cr = g.cell_rect(c, r);
      const QRectF cell(cr.x, cr.y, cr.w, cr.h);
      const double v = m_spec.values[size_t(r) * m_spec.cols + c];
      const QColor col = matrix_colour(m_spec, v);
      p.fillRect(cell, col);
      if (m_spec.show_values && v != 0.0 && !std::isnan(v) && cr.h >= fm.height()) {
        const QString text = QString::number(v, 'f', m_spec.decimals);
        if (cr.w >= fm.horizontalAdvance(text) + 2) {
          p.setPen(text_colour_on(col));
          p.drawText(cell, Qt::AlignCenter, text);
        }
      }
    }
  // Separators, outlines, frame.
  p.setPen(QPen(QColor(255, 255, 255, 140), 1));
  if (g.cell_width() >= 6)
    for (int c = 1; c < g.columns(); ++c) p.drawLine(QPointF(gr.x + c * g.cell_width(), gr.y), QPointF(gr.x + c * g.cell_width(), gr.y + gr.h));
  for (int r = 1; r < g.rows(); ++r) p.drawLine(QPointF(gr.x, gr.y + r * g.cell_height()), QPointF(gr.x + gr.w, gr.y + r * g.cell_height()));
  if (m_spec.outline.size() == m_spec.values.size()) {
    for (int r = 0; r < m_spec.rows; ++r)
      for (int c = 0; c < m_spec.cols; ++c) {
        const uint8_t o = m_spec.outline[size_t(r) * m_spec.cols + c];
        if (!o) continue;
        const CellRect cr = g.cell_rect(c, r);
        p.setPen(QPen(chosen_outline_colour(), o == 1 ? 3 : 1.5));
        p.setBrush(Qt::NoBrush);
        p.drawRect(QRectF(cr.x, cr.y, cr.w, cr.h).adjusted(1.5, 1.5, -1.5, -1.5));
      }
  }
  p.setPen(Qt::black);
  p.setBrush(Qt::NoBrush);
  p.drawRect(QRectF(gr.x, gr.y, gr.w, gr.h));

  // Row labels and y title.
  for (int r = 0; r < m_spec.rows && r < m_spec.row_labels.size(); ++r)
    p.drawText(QRectF(0, g.row_centre(r) - fm.height() / 2.0, gr.x - 5, fm.height()), Qt::AlignRight | Qt::AlignVCenter,
               m_spec.row_labels[r]);
  if (!m_spec.y_title.isEmpty()) {
    p.save();
    p.translate(4 + fm.ascent(), gr.y + gr.h / 2);
    p.rotate(-90);
    p.drawText(QRectF(-gr.h / 2 - 200, -fm.ascent(), gr.h + 400, fm.height()), Qt::AlignCenter, m_spec.y_title);
    p.restore();
  }
  // Column labels (rotated for tokens) and x title.
  const int label_h = bottomMargin() - 10 - (m_spec.x_title.isEmpty() ? 0 : fm.height() + 6);
  for (int c = 0; c < m_spec.cols && c < m_spec.col_labels.size(); ++c) {
    if (m_spec.rotate_col_labels) {
      const QString s = fm.elidedText(m_spec.col_labels[c], Qt::ElideRight, label_h);
      p.save();
      p.translate(g.column_centre(c) + fm.ascent() / 2.0 - 1, gr.y + gr.h + 4);
      p.rotate(-90);
      p.drawText(QRectF(-label_h, -fm.ascent(), label_h, fm.height()), Qt::AlignRight | Qt::AlignVCenter, s);
      p.restore();
    } else {
      p.drawText(QRectF(g.column_centre(c) - g.cell_width() / 2 - 20, gr.y + gr.h + 3, g.cell_width() + 40, fm.height()),
                 Qt::AlignHCenter | Qt::AlignTop, m_spec.col_labels[c]);
    }
  }
  if (!m_spec.x_title.isEmpty())
    p.drawText(QRectF(gr.x, gr.y + gr.h + label_h + 8, std::max(gr.w, 300.0), fm.height()), Qt::AlignLeft | Qt::AlignVCenter,
               m_spec.x_title);
  // Marker column.
  if (m_spec.marker_column >= 0 && m_spec.marker_column <= m_spec.cols) {
    const double x = gr.x + m_spec.marker_column * g.cell_width();
    p.setPen(QPen(QColor(0xd6, 0x27, 0x28), 2.5));
    p.drawLine(QPointF(x, gr.y - fm.height()), QPointF(x, gr.y + gr.h + 2));
    p.drawText(QRectF(x + 3, gr.y - fm.height() - 4, 400, fm.height()), Qt::AlignLeft | Qt::AlignVCenter, m_spec.marker_label);
  }
  if (!m_spec.bar_title.isEmpty())
    paintColourBar(p, QRect(int(gr.x + gr.w) + 12, int(gr.y), rightMargin() - 16, std::max(120, int(gr.h))));
}

void MatrixHeatmap::paintColourBar(QPainter& p, const QRect& area) const {
  const QFontMetrics fm = fontMetrics();
  const int h = area.height();
  const double lo = m_spec.diverging ? -m_spec.range : 0.0, hi = m_spec.range;
  for (int y = 0; y < h; ++y) {
    const double v = hi - (hi - lo) * double(y) / double(std::max(1, h - 1));
    p.setPen(matrix_colour(m_spec, v));
    p.drawLine(area.left(), area.top() + y, area.left() + kBarWidth, area.top() + y);
  }
  p.setPen(Qt::black);
  p.drawRect(area.left(), area.top(), kBarWidth, h - 1);
  const int decimals = m_spec.range < 0.1 ? 3 : 2;
  for (double f : {0.0, 0.25, 0.5, 0.75, 1.0}) {
    const double v = hi - (hi - lo) * f;
    const int y = area.top() + int(std::lround(f * (h - 1)));
    p.drawLine(area.left() + kBarWidth, y, area.left() + kBarWidth + 3, y);
    p.drawText(QRect(area.left() + kBarWidth + 5, y - fm.height() / 2, 44, fm.height()), Qt::AlignLeft | Qt::AlignVCenter,
               QString::number(std::abs(v) < 1e-12 ? 0.0 : v, 'f', decimals));
  }
  p.save();
  p.translate(area.left() + kBarWidth + 52, area.top() + h / 2);
  p.rotate(90);
  p.drawText(QRect(-h / 2 - 100, -fm.height(), h + 200, fm.height()), Qt::AlignCenter, m_spec.bar_title);
  p.restore();
}

bool MatrixHeatmap::event(QEvent* e) {
  if (e->type() == QEvent::ToolTip) {
    auto* he = static_cast<QHelpEvent*>(e);
    const auto cell = currentGeometry().cell_at(he->pos().x(), he->pos().y());
    if (cell && m_spec.tooltip) {
      QToolTip::showText(he->globalPos(), m_spec.tooltip(cell->row, cell->column), this);
    } else if (cell && size_t(cell->row) * m_spec.cols + cell->column < m_spec.values.size()) {
      QToolTip::showText(he->globalPos(),
                         QStringLiteral("%1, %2: %3")
                             .arg(m_spec.row_labels.value(cell->row), m_spec.col_labels.value(cell->column))
                             .arg(m_spec.values[size_t(cell->row) * m_spec.cols + cell->column], 0, 'g', 4),
                         this);
    } else {
      QToolTip::hideText();
      e->ignore();
    }
    return true;
  }
  return QWidget::event(e);
}

void MatrixHeatmap::mousePressEvent(QMouseEvent* e) {
  const auto cell = currentGeometry().cell_at(e->position().x(), e->position().y());
  if (cell) emit cellClicked(cell->row, cell->column);
  QWidget::mousePressEvent(e);
}

}  // namespace moescope::views
