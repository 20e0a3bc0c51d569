// Diverging colour map (see specialization_colours.h).
#include "views/specialization_colours.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace moescope::views {

namespace {
// RdBu 11 classes from blue (-1) to red (+1), with pure white in the middle so 0 reads as "nothing".
constexpr std::array<QRgb, 11> kRdBu = {0x053061, 0x2166ac, 0x4393c3, 0x92c5de, 0xd1e5f0, 0xffffff,
                                        0xfddbc7, 0xf4a582, 0xd6604d, 0xb2182b, 0x67001f};
}  // namespace

QColor diverging_colour(double v) {
  if (std::isnan(v)) v = 0;
  v = std::clamp(v, -1.0, 1.0);
  const double pos = (v + 1.0) * 0.5 * double(kRdBu.size() - 1);
  const int i = std::min(int(pos), int(kRdBu.size()) - 2);
  const double f = pos - i;
  const QColor a = QColor::fromRgb(kRdBu[size_t(i)]), b = QColor::fromRgb(kRdBu[size_t(i) + 1]);
  auto mix = [f](int x, int y) { return int(std::lround(x + (y - x) * f)); };
  return QColor(mix(a.red(), b.red()), mix(a.green(), b.green()), mix(a.blue(), b.blue()));
}

}  // namespace moescope::views
