// Palette definitions (see palette.h).
#include "views/palette.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace moescope::views {

namespace {
// Tableau-20 order rearranged so that the first ten are the saturated members (the demo has 16
// experts; adjacent ids should not look alike).
constexpr std::array<QRgb, kCategoricalColours> kPalette = {
    0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf,
    0xaec7e8, 0xffbb78, 0x98df8a, 0xff9896, 0xc5b0d5, 0xc49c94, 0xf7b6d2, 0x393b79, 0xdbdb8d, 0x9edae5};

// Stops of a white -> light blue -> navy ramp (ColorBrewer "Blues", 9 classes, plus white at 0).
constexpr std::array<QRgb, 10> kBlues = {0xffffff, 0xf7fbff, 0xdeebf7, 0xc6dbef, 0x9ecae1,
                                         0x6baed6, 0x4292c6, 0x2171b5, 0x08519c, 0x08306b};

double channel_luminance(int c) {
  const double s = c / 255.0;
  return s <= 0.03928 ? s / 12.92 : std::pow((s + 0.055) / 1.055, 2.4);
}
}  // namespace

QColor expert_colour(int expert) {
  if (expert < 0) return QColor(0xdd, 0xdd, 0xdd);
  return QColor::fromRgb(kPalette[size_t(expert) % kPalette.size()]);
}

QColor text_colour_on(const QColor& bg) {
  const double l = 0.2126 * channel_luminance(bg.red()) + 0.7152 * channel_luminance(bg.green()) +
                   0.0722 * channel_luminance(bg.blue());
  // Contrast against black is (l+0.05)/0.05, against white 1.05/(l+0.05): pick the larger.
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? QColor(Qt::black) : QColor(Qt::white);
}

QColor sequential_colour(double v) {
  if (!(v >= 0)) v = 0;  // also catches NaN
  v = std::min(1.0, v);
  const double pos = v * double(kBlues.size() - 1);
  const int i = std::min(int(pos), int(kBlues.size()) - 2);
  const double f = pos - i;
  const QColor a = QColor::fromRgb(kBlues[size_t(i)]), b = QColor::fromRgb(kBlues[size_t(i) + 1]);
  auto mix = [f](int x, int y) { return int(std::lround(x + (y - x) * f)); };
  return QColor(mix(a.red(), b.red()), mix(a.green(), b.green()), mix(a.blue(), b.blue()));
}

QColor chosen_outline_colour() { return QColor(0xe6, 0x55, 0x0d); }  // orange: visible on white and navy
QColor dropped_mark_colour() { return QColor(0xd6, 0x27, 0x28); }

}  // namespace moescope::views
