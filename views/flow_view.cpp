// FlowView painting (see flow_view.h).
#include "views/flow_view.h"

#include <QPainter>
#include <QPainterPath>
#include <algorithm>

#include "probes/metrics/drift.h"
#include "views/palette.h"

namespace moescope::views {

namespace {
constexpr double kGap = 4.0;
constexpr int kNodeWidth = 16;
}  // namespace

FlowView::FlowView(QWidget* parent) : QWidget(parent) {
  setBackgroundRole(QPalette::Base);
  setAutoFillBackground(true);
}

void FlowView::setSnapshot(RunSnapshot run) {
  m_run = std::move(run);
  update();
}

void FlowView::setTopBands(int n) {
  m_top_bands = std::max(1, n);
  update();
}

QRect FlowView::plotRect() const {
  const int line = fontMetrics().height() + 2;
  return QRect(40, 8 + 3 * line + line + 4, std::max(10, width() - 80), std::max(10, height() - (8 + 4 * line + 4) - 3 * line - 12));
}

FlowLayout FlowView::currentLayout() const {
  if (!m_run || m_run->num_tokens() == 0 || m_run->num_moe_layers() == 0) return {};
  return layout_flow(*m_run, plotRect().height(), kGap, m_top_bands);
}

void FlowView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), Qt::white);
  p.setRenderHint(QPainter::Antialiasing, true);
  const QFontMetrics fm = fontMetrics();
  const int line = fm.height() + 2;
  QFont bold = font();
  bold.setBold(true);
  p.setFont(bold);
  p.setPen(Qt::black);
  p.drawText(QRect(8, 8, width() - 16, line), Qt::AlignLeft | Qt::AlignVCenter,
             QStringLiteral("Token paths through the MoE layers (top-1 expert of each token)"));
  p.setFont(font());
  p.setPen(QColor(0x44, 0x44, 0x44));
  p.drawText(QRect(8, 8 + line, width() - 16, 2 * line), Qt::AlignLeft | Qt::AlignVCenter,
             QStringLiteral("node height = tokens whose top-1 expert it is; band = tokens moving between two experts\n"
                            "(the %1 largest transitions per layer pair, coloured by the source expert)")
                 .arg(m_top_bands));
  const FlowLayout layout = currentLayout();
  if (layout.columns == 0) {
    p.drawText(QRect(8, 8 + 2 * line, width() - 16, line), Qt::AlignLeft, QStringLiteral("(no tokens yet)"));
    return;
  }
  const QRect pr = plotRect();
  const int cols = layout.columns;
  auto column_x = [&](int c) { return cols == 1 ? pr.left() + pr.width() / 2.0 : pr.left() + double(c) * (pr.width() - kNodeWidth) / (cols - 1); };

  // Bands first, so nodes sit on top.
  for (const FlowBand& b : layout.bands) {
    const double x0 = column_x(b.column) + kNodeWidth, x1 = column_x(b.column + 1);
    const double mx = (x0 + x1) / 2;
    QPainterPath path;
    path.moveTo(x0, pr.top() + b.y_from);
    path.cubicTo(mx, pr.top() + b.y_from, mx, pr.top() + b.y_to, x1, pr.top() + b.y_to);
    path.lineTo(x1, pr.top() + b.y_to + b.thickness);
    path.cubicTo(mx, pr.top() + b.y_to + b.thickness, mx, pr.top() + b.y_from + b.thickness, x0, pr.top() + b.y_from + b.thickness);
    path.closeSubpath();
    QColor c = expert_colour(b.from);
    c.setAlpha(110);
    p.setPen(Qt::NoPen);
    p.setBrush(c);
    p.drawPath(path);
  }
  // Nodes with expert labels (when tall enough).
  for (const FlowNode& n : layout.nodes) {
    const QRectF r(column_x(n.column), pr.top() + n.y, kNodeWidth, std::max(1.0, n.height));
    p.setPen(QPen(Qt::black, 0.6));
    p.setBrush(expert_colour(n.expert));
    p.drawRect(r);
    if (n.height >= fm.height() - 2) {
      p.setPen(Qt::black);
      const bool last = n.column == cols - 1;
      const QRectF label = last ? QRectF(r.right() + 2, r.center().y() - fm.height() / 2.0, 36, fm.height())
                                : QRectF(r.left() - 38, r.center().y() - fm.height() / 2.0, 36, fm.height());
      p.drawText(label, (last ? Qt::AlignLeft : Qt::AlignRight) | Qt::AlignVCenter, QStringLiteral("E%1").arg(n.expert));
    }
  }
  // Column titles and the share of transitions shown.
  p.setPen(Qt::black);
  for (int c = 0; c < cols; ++c) {
    const double x = column_x(c) + kNodeWidth / 2.0;
    p.drawText(QRectF(x - 50, pr.top() - line - 2, 100, line), Qt::AlignCenter,
               QStringLiteral("layer %1").arg(m_run->moe_layers[size_t(c)]));
  }
  p.setPen(QColor(0x44, 0x44, 0x44));
  for (int c = 0; c + 1 < cols && c < int(layout.shown_fraction.size()); ++c) {
    const double x = (column_x(c) + column_x(c + 1) + kNodeWidth) / 2;
    const double h = metrics::conditional_entropy(metrics::transition_matrix(*m_run, c, true), m_run->num_experts);
    p.drawText(QRectF(x - 80, pr.bottom() + 4, 160, line), Qt::AlignCenter,
               QStringLiteral("%1% shown, H = %2").arg(100.0 * layout.shown_fraction[size_t(c)], 0, 'f', 0).arg(h, 0, 'f', 2));
  }
  p.drawText(QRect(8, pr.bottom() + 4 + line, width() - 16, 2 * line), Qt::AlignLeft | Qt::AlignVCenter,
             QStringLiteral("%1 tokens; \"%% shown\" = share of the token transitions between two layers that the drawn bands cover\n"
                            "H = conditional entropy of the next layer's top-1 expert given this layer's (nats)")
                 .arg(m_run->num_tokens()).replace(QStringLiteral("%%"), QStringLiteral("%")));
}

}  // namespace moescope::views
