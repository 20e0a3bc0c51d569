// Toolbar icons (see icons.h). Drawn on a 32x32 grid and rendered at two sizes.
#include "app/gui/icons.h"

#include <QPainter>
#include <QPainterPath>
#include <QPixmap>

namespace moescope::gui {

namespace {
void draw(QPainter& p, IconKind kind) {
  const QColor ink(0x26, 0x3a, 0x57);
  const QColor accent(0xe6, 0x55, 0x0d);
  p.setPen(Qt::NoPen);
  p.setBrush(ink);
  auto triangle = [&](double x, double w) {
    QPainterPath t;
    t.moveTo(x, 6);
    t.lineTo(x + w, 16);
    t.lineTo(x, 26);
    t.closeSubpath();
    p.drawPath(t);
  };
  switch (kind) {
    case IconKind::Open:
    case IconKind::OpenTrace: {
      p.setBrush(QColor(0xf2, 0xc1, 0x4e));
      p.setPen(QPen(ink, 1.5));
      p.drawRect(QRectF(4, 10, 24, 16));
      p.drawRect(QRectF(4, 7, 10, 4));
      if (kind == IconKind::OpenTrace) {
        p.setPen(Qt::NoPen);
        p.setBrush(ink);
        for (int i = 0; i < 3; ++i) p.drawRect(QRectF(9 + i * 6, 22 - (i + 1) * 3.5, 4, (i + 1) * 3.5));
      }
      break;
    }
    case IconKind::Export:
      p.setPen(QPen(ink, 2.5));
      p.drawLine(QPointF(16, 4), QPointF(16, 20));
      p.drawLine(QPointF(10, 14), QPointF(16, 20));
      p.drawLine(QPointF(22, 14), QPointF(16, 20));
      p.drawRect(QRectF(5, 22, 22, 5));
      break;
    case IconKind::Step:
      triangle(7, 14);
      p.drawRect(QRectF(22, 6, 4, 20));
      break;
    case IconKind::StepBack: {
      QPainterPath t;
      t.moveTo(25, 6);
      t.lineTo(11, 16);
      t.lineTo(25, 26);
      t.closeSubpath();
      p.drawPath(t);
      p.drawRect(QRectF(6, 6, 4, 20));
      break;
    }
    case IconKind::RunN:
      triangle(4, 12);
      triangle(16, 12);
      break;
    case IconKind::RunToEnd:
      p.setBrush(QColor(0x2c, 0xa0, 0x2c));
      triangle(8, 18);
      break;
    case IconKind::Pause:
      p.drawRect(QRectF(8, 6, 6, 20));
      p.drawRect(QRectF(18, 6, 6, 20));
      break;
    case IconKind::Reset: {
      p.setPen(QPen(ink, 3));
      p.setBrush(Qt::NoBrush);
      p.drawArc(QRectF(7, 7, 18, 18), 60 * 16, 280 * 16);
      p.setPen(Qt::NoPen);
      p.setBrush(ink);
      QPainterPath t;
      t.moveTo(18, 3);
      t.lineTo(25, 9);
      t.lineTo(16, 12);
      t.closeSubpath();
      p.drawPath(t);
      break;
    }
    case IconKind::App: {
      // A 4x4 routing grid with two chosen cells.
      for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) {
          const bool hot = (r == 1 && c == 2) || (r == 3 && c == 0);
          p.setBrush(hot ? accent : QColor(0x9e, 0xca, 0xe1));
          p.drawRect(QRectF(3 + c * 6.8, 3 + r * 6.8, 5.8, 5.8));
        }
      break;
    }
  }
}
}  // namespace

QIcon make_icon(IconKind kind) {
  QIcon icon;
  for (int size : {32, 64}) {
    QPixmap pm(size, size);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    p.scale(size / 32.0, size / 32.0);
    draw(p, kind);
    p.end();
    icon.addPixmap(pm);
  }
  return icon;
}

}  // namespace moescope::gui
