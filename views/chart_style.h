// Shared look of the Qt Charts views: axis fonts small enough for 16+ expert categories in a dock.
#pragma once

class QAbstractAxis;

namespace moescope::views {

void style_axes(QAbstractAxis* x, QAbstractAxis* y);

}  // namespace moescope::views
