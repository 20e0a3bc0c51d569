// A Qt Charts stacked bar chart over expert ids, built once and updated in place (bar values, axis
// range, an optional horizontal line): live snapshots arrive at up to 25 Hz, and recreating series
// and axes each time both flickers and leaves stale axis labels behind.
#pragma once
#include <QColor>
#include <QString>

#include "views/chart_adapters.h"

class QBarCategoryAxis;
class QBarSet;
class QChart;
class QLineSeries;
class QStackedBarSeries;
class QValueAxis;

namespace moescope::views {

class StackedBarChart {
 public:
  struct Style {
    QString base_name, top_name;
    QColor base_colour, top_colour;
    QString x_title, y_title;
    QString line_name;  // empty: no line series
  };
  StackedBarChart(QChart* chart, const Style& style);

  // Categories are expert ids 0..n-1 (n = bars.base.size()). y axis [0, y_max] with `ticks` ticks.
  void setData(const StackedBars& bars, double y_max, int ticks, const QString& label_format);
  void setLine(double y, const QString& name);  // horizontal line across the categories
  void clear();

  QStackedBarSeries* series() const { return m_series; }
  QBarSet* baseSet() const { return m_base; }
  QBarSet* topSet() const { return m_top; }
  QLineSeries* line() const { return m_line; }
  QValueAxis* yAxis() const { return m_y; }

 private:
  QChart* m_chart;
  QStackedBarSeries* m_series;
  QBarSet* m_base;
  QBarSet* m_top;
  QLineSeries* m_line = nullptr;
  QBarCategoryAxis* m_x;
  QValueAxis* m_y;
};

}  // namespace moescope::views
