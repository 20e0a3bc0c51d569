// Shared look of the Qt Charts views (see chart_style.h).
#include "views/chart_style.h"

#include <QAbstractAxis>
#include <algorithm>

namespace moescope::views {

// Small, dark axis fonts so 16+ category labels fit in a dock-sized chart.
void style_axes(QAbstractAxis* x, QAbstractAxis* y) {
  for (QAbstractAxis* a : {x, y}) {
    QFont f = a->labelsFont();
    f.setPointSizeF(std::max(7.0, f.pointSizeF() - 1));
    a->setLabelsFont(f);
    a->setLabelsColor(QColor(0x22, 0x22, 0x22));
    QFont t = a->titleFont();
    t.setPointSizeF(f.pointSizeF());
    t.setBold(false);
    a->setTitleFont(t);
  }
}

}  // namespace moescope::views
