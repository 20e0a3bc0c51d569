// Diverging colour map for signed association scores (normalised PMI, probability differences):
// blue below 0, white at 0, red above, symmetric about 0 (ColorBrewer RdBu, 11 classes, reversed so
// red = positive). Shared by the specialisation map and the compare view's difference heatmap.
#pragma once
#include <QColor>

namespace moescope::views {

// v in [-1, 1] (clamped; NaN = white): -1 dark blue, 0 white, +1 dark red.
QColor diverging_colour(double v);

}  // namespace moescope::views
