// TokenChips painting, layout and hit-testing (see token_chips.h).
#include "views/token_chips.h"

#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <algorithm>
#include <set>

#include "views/palette.h"
#include "views/routing_math.h"
#include "views/routing_table_model.h"

namespace moescope::views {

namespace {
constexpr int kMargin = 8, kSpacing = 4, kPad = 5;
}

std::vector<QRect> flow_layout(const std::vector<int>& widths, int height, int available_width, int spacing) {
  std::vector<QRect> out;
  out.reserve(widths.size());
  int x = 0, y = 0;
  for (int w : widths) {
    if (x > 0 && x + w > available_width) {
      x = 0;
      y += height + spacing;
    }
    out.emplace_back(x, y, w, height);
    x += w + spacing;
  }
  return out;
}

TokenChips::TokenChips(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  QSizePolicy sp(QSizePolicy::Preferred, QSizePolicy::Preferred);
  sp.setHeightForWidth(true);
  setSizePolicy(sp);
}

void TokenChips::setSnapshot(RunSnapshot run) {
  m_run = std::move(run);
  if (m_run) m_layer = std::clamp(m_layer, 0, std::max(0, m_run->num_moe_layers() - 1));
  if (!m_run || m_selected >= m_run->num_tokens()) m_selected = -1;
  updateGeometry();
  update();
}

void TokenChips::setLayer(int moe_layer) {
  m_layer = std::max(0, moe_layer);
  update();
}

void TokenChips::setSelectedToken(int token) {
  m_selected = token;
  update();
}

QString TokenChips::chipText(int token) const {
  return RoutingTableModel::tokenLabel(size_t(token) < m_run->token_text.size() ? m_run->token_text[size_t(token)] : std::string());
}

std::vector<QRect> TokenChips::layoutFor(int width, int* legend_top) const {
  std::vector<QRect> rects;
  if (!m_run) {
    if (legend_top) *legend_top = kMargin;
    return rects;
  }
  const QFontMetrics fm = fontMetrics();
  QFont italic = font();
  italic.setItalic(true);
  const QFontMetrics fm_italic(italic);
  std::vector<int> widths;
  widths.reserve(size_t(m_run->num_tokens()));
  for (int t = 0; t < m_run->num_tokens(); ++t) {
    const bool prompt = size_t(t) < m_run->is_prompt.size() && m_run->is_prompt[size_t(t)];
    const int text_w = (prompt ? fm : fm_italic).horizontalAdvance(chipText(t)) + 2;
    widths.push_back(std::min(std::max(text_w + 2 * kPad, 18), std::max(40, width - 2 * kMargin)));
  }
  rects = flow_layout(widths, fm.height() + 2 * kPad - 2, std::max(40, width - 2 * kMargin), kSpacing);
  for (QRect& r : rects) r.translate(kMargin, kMargin);
  if (legend_top) *legend_top = (rects.empty() ? kMargin : rects.back().bottom() + 1) + 10;
  return rects;
}

std::vector<QRect> TokenChips::chipRects() const { return layoutFor(width(), nullptr); }

int TokenChips::tokenAt(const QPoint& pos) const {
  const auto rects = chipRects();
  for (size_t i = 0; i < rects.size(); ++i)
    if (rects[i].contains(pos)) return int(i);
  return -1;
}

int TokenChips::heightForWidth(int w) const {
  int legend_top = 0;
  layoutFor(w, &legend_top);
  const int legend_rows = m_run ? (m_run->num_experts + 7) / 8 : 0;
  return legend_top + (fontMetrics().height() + 6) * (legend_rows + 1) + kMargin;
}

QSize TokenChips::sizeHint() const { return {480, heightForWidth(480)}; }

void TokenChips::resizeEvent(QResizeEvent* e) {
  QWidget::resizeEvent(e);
  updateGeometry();
}

void TokenChips::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), Qt::white);
  p.setRenderHint(QPainter::Antialiasing, true);
  const QFontMetrics fm = fontMetrics();
  if (!m_run || m_run->num_tokens() == 0) {
    p.setPen(QColor(0x55, 0x55, 0x55));
    p.drawText(rect().adjusted(kMargin, kMargin, -kMargin, -kMargin), Qt::AlignLeft | Qt::AlignTop,
               QStringLiteral("No tokens yet: enter a prompt and press Step (F10) or Run (F5)."));
    return;
  }
  int legend_top = 0;
  const auto rects = layoutFor(width(), &legend_top);
  const bool has_layers = m_run->num_moe_layers() > 0;
  std::set<int> used;
  for (int t = 0; t < int(rects.size()); ++t) {
    const int e = has_layers ? top1_expert(*m_run, t, m_layer) : -1;
    used.insert(e);
    const QColor fill = expert_colour(e);
    const bool prompt = size_t(t) < m_run->is_prompt.size() && m_run->is_prompt[size_t(t)];
    QPen border(t == m_selected ? QColor(Qt::black) : fill.darker(160), t == m_selected ? 3 : 1.5,
                prompt ? Qt::SolidLine : Qt::DashLine);
    p.setPen(border);
    p.setBrush(fill);
    p.drawRoundedRect(QRectF(rects[size_t(t)]).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4);
    p.setPen(text_colour_on(fill));
    QFont f = font();
    f.setItalic(!prompt);
    p.setFont(f);
    p.drawText(rects[size_t(t)].adjusted(kPad - 1, 0, -kPad + 1, 0), Qt::AlignCenter,
               QFontMetrics(f).elidedText(chipText(t), Qt::ElideRight, rects[size_t(t)].width() - 2 * kPad + 2));
  }
  p.setFont(font());
  // Legend: every expert of the layer (so colours can be looked up even before they are used).
  p.setPen(Qt::black);
  const int model_layer = has_layers ? m_run->moe_layers[size_t(m_layer)] : 0;
  p.drawText(QRect(kMargin, legend_top, width() - 2 * kMargin, fm.height()), Qt::AlignLeft | Qt::AlignVCenter,
             QStringLiteral("Chip colour = top-1 expert at layer %1 (solid border: prompt, dashed: generated, grey: none/dropped)")
                 .arg(model_layer));
  const int sw = 64, line = fm.height() + 6;
  int x = kMargin, y = legend_top + line;
  for (int e = 0; e < m_run->num_experts; ++e) {
    if (x + sw > width() - kMargin) {
      x = kMargin;
      y += line;
    }
    const QColor c = expert_colour(e);
    p.setPen(Qt::NoPen);
    p.setBrush(c);
    p.drawRoundedRect(QRect(x, y + 2, 14, line - 6), 2, 2);
    QFont f = font();
    f.setBold(used.count(e) > 0);
    p.setFont(f);
    p.setPen(used.count(e) ? QColor(Qt::black) : QColor(0x77, 0x77, 0x77));
    p.drawText(QRect(x + 18, y, sw - 20, line), Qt::AlignLeft | Qt::AlignVCenter, QStringLiteral("E%1").arg(e));
    x += sw;
  }
}

void TokenChips::mousePressEvent(QMouseEvent* e) {
  const int t = tokenAt(e->position().toPoint());
  if (t >= 0) {
    setSelectedToken(t);
    emit tokenClicked(t);
  }
  QWidget::mousePressEvent(e);
}

bool TokenChips::event(QEvent* e) {
  if (e->type() == QEvent::ToolTip && m_run) {
    auto* he = static_cast<QHelpEvent*>(e);
    const int t = tokenAt(he->pos());
    if (t < 0) {
      QToolTip::hideText();
      return true;
    }
    QString tip = QStringLiteral("#%1 \u201c%2\u201d id %3").arg(t).arg(chipText(t)).arg(m_run->token_ids[size_t(t)]);
    if (m_run->num_moe_layers() > 0) {
      const int32_t* ex = m_run->experts_at(t, m_layer);
      const float* w = m_run->weights_at(t, m_layer);
      QStringList parts;
      for (int k = 0; k < m_run->k_max; ++k)
        if (ex[k] >= 0) parts << QStringLiteral("E%1 (%2)").arg(ex[k]).arg(double(w[k]), 0, 'f', 3);
      tip += QStringLiteral("\nlayer %1: %2").arg(m_run->moe_layers[size_t(m_layer)]).arg(parts.isEmpty() ? QStringLiteral("none") : parts.join(QStringLiteral(", ")));
    }
    QToolTip::showText(he->globalPos(), tip, this);
    return true;
  }
  return QWidget::event(e);
}

}  // namespace moescope::views
