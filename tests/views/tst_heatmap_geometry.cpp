// HeatmapGeometry: point <-> cell mapping, half-open edges, outside points, visible column ranges.
#include <QtTest>
#include <cmath>

#include "views/heatmap_geometry.h"

using moescope::views::Cell;
using moescope::views::HeatmapGeometry;

class TestHeatmapGeometry : public QObject {
  Q_OBJECT
 private slots:
  void centresMapToTheirCell() {
    const HeatmapGeometry g(7, 5, 12, 10, 40, 30);
    for (int c = 0; c < 7; ++c)
      for (int r = 0; r < 5; ++r) {
        const double x = 40 + c * 12 + 6, y = 30 + r * 10 + 5;
        const auto cell = g.cell_at(x, y);
        QVERIFY(cell.has_value());
        QCOMPARE(cell->column, c);
        QCOMPARE(cell->row, r);
        QCOMPARE(g.column_centre(c), x);
        QCOMPARE(g.row_centre(r), y);
      }
  }
  void cellRectRoundTrip() {
    const HeatmapGeometry g(4, 3, 15.5, 9, 10.25, 2);
    for (int c = 0; c < 4; ++c)
      for (int r = 0; r < 3; ++r) {
        const auto rect = g.cell_rect(c, r);
        QCOMPARE(*g.cell_at(rect.x, rect.y), (Cell{c, r}));  // top-left corner is inside
        QCOMPARE(*g.cell_at(rect.x + rect.w - 1e-6, rect.y + rect.h - 1e-6), (Cell{c, r}));
      }
  }
  void sharedEdgeBelongsToTheNextCell() {
    const HeatmapGeometry g(3, 2, 10, 10, 0, 0);
    QCOMPARE(*g.cell_at(10, 10), (Cell{1, 1}));
    QCOMPARE(*g.cell_at(9.999, 9.999), (Cell{0, 0}));
  }
  void outsideIsNone() {
    const HeatmapGeometry g(3, 2, 10, 10, 50, 20);
    QVERIFY(!g.cell_at(49.99, 25));   // left margin (axis labels)
    QVERIFY(!g.cell_at(80, 25));      // right edge is exclusive: 50 + 3*10
    QVERIFY(!g.cell_at(60, 19.99));   // title area
    QVERIFY(!g.cell_at(60, 40));      // below the last row
    QVERIFY(!g.cell_at(std::nan(""), 25));
    QVERIFY(!g.cell_at(60, std::nan("")));
    QCOMPARE(*g.column_at(79.9), 2);  // column lookup ignores y (clicks on token labels)
    QVERIFY(!g.column_at(80));
  }
  void emptyGridHasNoCells() {
    const HeatmapGeometry g(0, 4, 10, 10, 0, 0);
    QVERIFY(!g.cell_at(1, 1));
    QCOMPARE(g.grid().w, 0.0);
  }
  void visibleColumns() {
    const HeatmapGeometry g(100, 4, 20, 10, 30, 0);
    int first = 0, last = 0;
    g.visible_columns(0, 130, first, last);  // 30..130 covers columns 0..4
    QCOMPARE(first, 0);
    QCOMPARE(last, 4);
    g.visible_columns(235, 255, first, last);  // 205..225 is column 10; 225..245 column 11
    QCOMPARE(first, 10);
    QCOMPARE(last, 11);
    g.visible_columns(5000, 6000, first, last);
    QVERIFY(first > last);
  }
};

QTEST_GUILESS_MAIN(TestHeatmapGeometry)
#include "tst_heatmap_geometry.moc"
