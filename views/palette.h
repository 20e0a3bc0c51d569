// Colours shared by every view: a categorical palette for expert ids (20 distinct colours, chosen
// to stay apart on a light background) and a sequential white-to-navy scale for probabilities.
#pragma once
#include <QColor>

namespace moescope::views {

constexpr int kCategoricalColours = 20;
// Colour of an expert id; ids beyond the palette wrap around. -1 (none / dropped) is light grey.
QColor expert_colour(int expert);
// Black or white, whichever reads better on `background` (WCAG relative luminance).
QColor text_colour_on(const QColor& background);
// Sequential scale for v in [0, 1] (clamped): white at 0, dark navy at 1, perceptually even steps.
QColor sequential_colour(double v);
// Colours for marks drawn over a heatmap.
QColor chosen_outline_colour();   // chosen experts
QColor dropped_mark_colour();     // tokens dropped by capacity

}  // namespace moescope::views
