// Toolbar icons drawn in code (no image plugin needed): simple shapes in one dark colour.
#pragma once
#include <QIcon>

namespace moescope::gui {

enum class IconKind { Open, OpenTrace, Export, Step, StepBack, RunN, RunToEnd, Pause, Reset, App };
QIcon make_icon(IconKind kind);

}  // namespace moescope::gui
