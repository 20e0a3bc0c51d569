// RoutingHeatmap painting and interaction (see routing_heatmap.h).
#include "views/routing_heatmap.h"

#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <algorithm>
#include <cmath>

#include "views/palette.h"
#include "views/routing_math.h"
#include "views/routing_table_model.h"

namespace moescope::views {

namespace {
constexpr int kMinCellW = 15, kMaxCellW = 44;
constexpr int kMinCellH = 14, kMaxCellH = 40;
constexpr int kLabelChars = 10;  // token labels are elided beyond this
}  // namespace

QImage heatmap_image(const RoutingTableModel& model) {
  const int tokens = model.rowCount(), rows = model.columnCount();
  if (tokens == 0 || rows == 0) return {};
  QImage img(tokens, rows, QImage::Format_RGB32);
  const bool experts = model.mode() == RoutingTableModel::Mode::Experts;
  const double scale = model.colourScaleMax();
  for (int t = 0; t < tokens; ++t)
    for (int r = 0; r < rows; ++r) {
      const QVariant v = model.data(model.index(t, r), RoutingTableModel::ValueRole);
      const QColor c = experts ? sequential_colour(v.toDouble() / scale) : expert_colour(v.toInt());
      img.setPixel(t, r, c.rgb());
    }
  return img;
}

RoutingHeatmap::RoutingHeatmap(RoutingTableModel* model, QWidget* parent) : QWidget(parent), m_model(model) {
  setMouseTracking(true);
  setBackgroundRole(QPalette::Base);
  setAutoFillBackground(true);
  connect(m_model, &QAbstractItemModel::modelReset, this, &RoutingHeatmap::modelChanged);
  connect(m_model, &QAbstractItemModel::dataChanged, this, &RoutingHeatmap::modelChanged);
  connect(m_model, &QAbstractItemModel::headerDataChanged, this, &RoutingHeatmap::modelChanged);
  modelChanged();
}

void RoutingHeatmap::modelChanged() {
  m_image = heatmap_image(*m_model);
  if (m_selected >= m_model->rowCount()) m_selected = -1;
  updateGeometry();
  update();
}

void RoutingHeatmap::setSelectedToken(int token) {
  m_selected = token;
  update();
}

int RoutingHeatmap::leftMargin() const { return fontMetrics().horizontalAdvance(QStringLiteral("L00 ")) + 28; }
int RoutingHeatmap::topMargin() const { return fontMetrics().height() * 2 + 20; }
int RoutingHeatmap::bottomMargin() const {
  return fontMetrics().horizontalAdvance(QString(kLabelChars, QLatin1Char('m'))) * 3 / 4 + fontMetrics().height() + 14;
}
int RoutingHeatmap::rightMargin() const {
  return m_model->mode() == RoutingTableModel::Mode::Experts ? 90 : 70;
}

HeatmapGeometry RoutingHeatmap::geometry_for_size(const QSize& size) const {
  const int cols = m_model->rowCount(), rows = m_model->columnCount();
  const int avail_w = size.width() - leftMargin() - rightMargin();
  const int avail_h = size.height() - topMargin() - bottomMargin();
  const int cw = cols > 0 ? std::clamp(avail_w / cols, kMinCellW, kMaxCellW) : kMinCellW;
  const int ch = rows > 0 ? std::clamp(avail_h / rows, kMinCellH, kMaxCellH) : kMinCellH;
  return HeatmapGeometry(cols, rows, cw, ch, leftMargin(), topMargin());
}

QRect RoutingHeatmap::contentRect() const {
  const CellRect g = currentGeometry().grid();
  int h = int(g.y + g.h) + bottomMargin();
  if (m_model->mode() == RoutingTableModel::Mode::Layers && m_model->snapshot()) {
    const int legend = int(g.y) + (fontMetrics().height() + 2) * (m_model->snapshot()->num_experts + 1) + 4;
    h = std::max(h, legend);
  }
  return QRect(0, 0, std::min(width(), int(g.x + g.w) + rightMargin()), std::min(height(), h));
}

QSize RoutingHeatmap::sizeHint() const {
  const int cols = std::max(1, m_model->rowCount()), rows = std::max(1, m_model->columnCount());
  return {leftMargin() + rightMargin() + cols * 22, topMargin() + bottomMargin() + rows * 20};
}

QSize RoutingHeatmap::minimumSizeHint() const {
  const int cols = std::max(1, m_model->rowCount()), rows = std::max(1, m_model->columnCount());
  int h = topMargin() + bottomMargin() + rows * kMinCellH;
  if (m_model->mode() == RoutingTableModel::Mode::Layers && m_model->snapshot())  // room for the legend
    h = std::max(h, topMargin() + (fontMetrics().height() + 2) * (m_model->snapshot()->num_experts + 1) + 4);
  return {leftMargin() + rightMargin() + cols * kMinCellW, h};
}

void RoutingHeatmap::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), Qt::white);
  p.setPen(Qt::black);
  const bool experts = m_model->mode() == RoutingTableModel::Mode::Experts;
  const auto run = m_model->snapshot();
  // Title says what a cell is, so the picture explains itself.
  QFont title_font = font();
  title_font.setBold(true);
  p.setFont(title_font);
  QString title;
  if (!run || m_model->rowCount() == 0) {
    title = QStringLiteral("Routing: no tokens yet");
  } else if (experts) {
    title = QStringLiteral("Router probability per token and expert, layer %1 (%2 over %3 experts)")
                .arg(run->moe_layers[size_t(m_model->layer())])
                .arg(QString::fromLatin1(score_kind_label(score_kind_for_family(run->family))))
                .arg(run->num_experts);
  } else {
    title = QStringLiteral("Top-1 expert per token and layer (%1 MoE layers)").arg(run->num_moe_layers());
  }
  p.drawText(QRect(8, 4, width() - 16, fontMetrics().height() + 2), Qt::AlignLeft | Qt::AlignVCenter, title);
  p.setFont(font());
  if (experts && run && m_model->rowCount() > 0) {
    p.setPen(QColor(0x44, 0x44, 0x44));
    p.drawText(QRect(8, 4 + fontMetrics().height() + 2, width() - 16, fontMetrics().height()),
               Qt::AlignLeft | Qt::AlignVCenter,
               QStringLiteral("orange box = chosen expert (weight in tooltip); red \u00d7 = dropped by capacity"));
  }
  if (m_image.isNull()) return;

  const HeatmapGeometry g = currentGeometry();
  const CellRect gr = g.grid();
  const QRect grid(int(gr.x), int(gr.y), int(gr.w), int(gr.h));
  p.setRenderHint(QPainter::SmoothPixmapTransform, false);
  p.drawImage(grid, m_image);

  // Thin white separators keep neighbouring cells apart when cells are large enough.
  p.setPen(QPen(QColor(255, 255, 255, 120), 1));
  for (int c = 1; c < g.columns(); ++c) p.drawLine(int(gr.x + c * g.cell_width()), grid.top(), int(gr.x + c * g.cell_width()), grid.bottom());
  for (int r = 1; r < g.rows(); ++r) p.drawLine(grid.left(), int(gr.y + r * g.cell_height()), grid.right(), int(gr.y + r * g.cell_height()));

  // Chosen experts and dropped tokens.
  const int tokens = m_model->rowCount();
  for (int t = 0; t < tokens; ++t) {
    for (int r = 0; r < g.rows(); ++r) {
      const QModelIndex idx = m_model->index(t, r);
      const CellRect cr = g.cell_rect(t, r);
      const QRectF cell(cr.x, cr.y, cr.w, cr.h);
      if (experts && idx.data(RoutingTableModel::ChosenRole).toBool()) {
        p.setPen(QPen(chosen_outline_colour(), 2));
        p.setBrush(Qt::NoBrush);
        p.drawRect(cell.adjusted(1, 1, -1, -1));
      }
      if (!experts && idx.data(RoutingTableModel::DroppedRole).toBool()) {
        p.setPen(QPen(dropped_mark_colour(), 2));
        p.drawLine(cell.topLeft() + QPointF(3, 3), cell.bottomRight() - QPointF(3, 3));
        p.drawLine(cell.topRight() + QPointF(-3, 3), cell.bottomLeft() + QPointF(3, -3));
      }
    }
    if (experts && m_model->index(t, 0).data(RoutingTableModel::DroppedRole).toBool()) {
      const CellRect cr = g.cell_rect(t, 0);
      p.setPen(QPen(dropped_mark_colour(), 2));
      const QRectF mark(cr.x + 2, gr.y - 10, cr.w - 4, 8);
      p.drawLine(mark.topLeft(), mark.bottomRight());
      p.drawLine(mark.topRight(), mark.bottomLeft());
    }
  }
  if (m_selected >= 0 && m_selected < tokens) {
    const CellRect cr = g.cell_rect(m_selected, 0);
    p.setPen(QPen(Qt::black, 2, Qt::DashLine));
    p.setBrush(Qt::NoBrush);
    p.drawRect(QRectF(cr.x, gr.y, cr.w, gr.h).adjusted(-1, -1, 1, 1));
  }
  p.setPen(QPen(Qt::black, 1));
  p.setBrush(Qt::NoBrush);
  p.drawRect(grid.adjusted(0, 0, -1, -1));

  // Row labels (experts / layers) and the y-axis title.
  const QFontMetrics fm = fontMetrics();
  for (int r = 0; r < g.rows(); ++r) {
    const QString label = m_model->headerData(r, Qt::Horizontal).toString();
    p.drawText(QRectF(0, g.row_centre(r) - fm.height() / 2.0, gr.x - 4, fm.height()), Qt::AlignRight | Qt::AlignVCenter, label);
  }
  p.save();
  p.translate(10, gr.y + gr.h / 2);
  p.rotate(-90);
  p.drawText(QRectF(-gr.h / 2, -fm.height() / 2.0, gr.h, fm.height()), Qt::AlignCenter,
             experts ? QStringLiteral("expert") : QStringLiteral("layer"));
  p.restore();

  // Token labels, rotated so each sits under its column; prompt tokens in grey italics.
  int prompt_end = -1;
  for (int t = 0; t < tokens; ++t) {
    const bool is_prompt = m_model->index(t, 0).data(RoutingTableModel::IsPromptRole).toBool();
    if (is_prompt) prompt_end = t;
    QString label = fm.elidedText(m_model->headerData(t, Qt::Vertical).toString(), Qt::ElideRight,
                                  bottomMargin() - fm.height() - 16);
    QFont f = font();
    f.setItalic(!is_prompt);
    p.setFont(f);
    p.setPen(is_prompt ? QColor(0x33, 0x33, 0x33) : QColor(0x08, 0x30, 0x6b));
    p.save();
    p.translate(g.column_centre(t) + fm.ascent() / 2.0 - 1, gr.y + gr.h + 4);
    p.rotate(-90);
    p.drawText(QRectF(-(bottomMargin() - fm.height() - 12), -fm.ascent(), bottomMargin() - fm.height() - 12, fm.height()),
               Qt::AlignRight | Qt::AlignVCenter, label);
    p.restore();
  }
  p.setFont(font());
  p.setPen(Qt::black);
  if (prompt_end >= 0 && prompt_end + 1 < tokens) {
    const double x = gr.x + (prompt_end + 1) * g.cell_width();
    p.setPen(QPen(Qt::black, 2));
    p.drawLine(QPointF(x, gr.y - 4), QPointF(x, gr.y + gr.h + 4));
  }
  p.setPen(Qt::black);
  p.drawText(QRectF(gr.x, gr.y + gr.h + bottomMargin() - fm.height() - 4, std::max(gr.w, 420.0), fm.height()), Qt::AlignLeft | Qt::AlignVCenter,
             QStringLiteral("token (position \u2192; prompt upright, generated in italics after the bar)"));

  const QRect side(int(gr.x + gr.w) + 12, grid.top(), rightMargin() - 16, grid.height());
  if (experts)
    paintColourBar(p, side);
  else
    paintLegend(p, side);
}

void RoutingHeatmap::paintColourBar(QPainter& p, const QRect& area) const {
  const int bar_w = 14;
  const int h = std::max(60, area.height());
  const double scale = m_model->colourScaleMax();
  for (int y = 0; y < h; ++y) {
    p.setPen(sequential_colour(1.0 - double(y) / (h - 1)));
    p.drawLine(area.left(), area.top() + y, area.left() + bar_w, area.top() + y);
  }
  p.setPen(Qt::black);
  p.drawRect(area.left(), area.top(), bar_w, h - 1);
  const QFontMetrics fm = fontMetrics();
  // Ticks at round values: every 0.1 up to a scale of 0.5, every 0.2 above (the scale is a multiple of 0.1).
  const double step = scale <= 0.5 + 1e-9 ? 0.1 : 0.2;
  std::vector<double> ticks;
  for (double v = 0; v < scale - 1e-9; v += step) ticks.push_back(v);
  ticks.push_back(scale);
  for (double v : ticks) {
    const double f = v / scale;
    const int y = area.top() + int(std::lround((1.0 - f) * (h - 1)));
    p.drawLine(area.left() + bar_w, y, area.left() + bar_w + 3, y);
    p.drawText(QRect(area.left() + bar_w + 5, y - fm.height() / 2, 40, fm.height()), Qt::AlignLeft | Qt::AlignVCenter,
               QString::number(v, 'f', 1));
  }
  p.save();
  p.translate(area.left() + bar_w + 48, area.top() + h / 2);
  p.rotate(90);
  p.drawText(QRect(-h / 2, -fm.height(), h, fm.height()), Qt::AlignCenter, QStringLiteral("router probability"));
  p.restore();
}

void RoutingHeatmap::paintLegend(QPainter& p, const QRect& area) const {
  const auto run = m_model->snapshot();
  if (!run) return;
  const QFontMetrics fm = fontMetrics();
  const int n = run->num_experts;
  const int line = fm.height() + 2;
  p.drawText(QRect(area.left(), area.top(), area.width(), line), Qt::AlignLeft | Qt::AlignVCenter, QStringLiteral("expert"));
  for (int e = 0; e < n; ++e) {
    const int y = area.top() + line * (e + 1);
    p.fillRect(QRect(area.left(), y + 2, line - 4, line - 4), expert_colour(e));
    p.setPen(Qt::black);
    p.drawText(QRect(area.left() + line, y, area.width() - line, line), Qt::AlignLeft | Qt::AlignVCenter,
               QStringLiteral("E%1").arg(e));
  }
}

bool RoutingHeatmap::event(QEvent* e) {
  if (e->type() == QEvent::ToolTip) {
    auto* he = static_cast<QHelpEvent*>(e);
    const auto cell = currentGeometry().cell_at(he->pos().x(), he->pos().y());
    if (cell) {
      QToolTip::showText(he->globalPos(), m_model->index(cell->column, cell->row).data(Qt::ToolTipRole).toString(), this);
    } else {
      QToolTip::hideText();
      e->ignore();
    }
    return true;
  }
  return QWidget::event(e);
}

void RoutingHeatmap::mousePressEvent(QMouseEvent* e) {
  const auto col = currentGeometry().column_at(e->position().x());
  if (col && e->position().y() >= topMargin() - 12) {
    setSelectedToken(*col);
    emit tokenClicked(*col);
  }
  QWidget::mousePressEvent(e);
}

}  // namespace moescope::views
