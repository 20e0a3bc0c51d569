// StackedBarChart (see stacked_bar_chart.h).
#include "views/stacked_bar_chart.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QLineSeries>
#include <QStackedBarSeries>
#include <QValueAxis>

#include "views/chart_style.h"

namespace moescope::views {

namespace {
void set_values(QBarSet* set, const std::vector<double>& v) {
  if (set->count() != int(v.size())) {
    set->remove(0, set->count());
    for (double x : v) set->append(x);
    return;
  }
  for (int i = 0; i < int(v.size()); ++i)
    if (set->at(i) != v[size_t(i)]) set->replace(i, v[size_t(i)]);
}
}  // namespace

StackedBarChart::StackedBarChart(QChart* chart, const Style& style) : m_chart(chart) {
  m_chart->setAnimationOptions(QChart::NoAnimation);
  m_chart->legend()->setAlignment(Qt::AlignBottom);
  m_chart->setMargins(QMargins(4, 4, 4, 4));
  m_base = new QBarSet(style.base_name);
  m_top = new QBarSet(style.top_name);
  m_base->setColor(style.base_colour);
  m_base->setBorderColor(style.base_colour.darker(140));
  m_top->setColor(style.top_colour);
  m_top->setBorderColor(style.top_colour.darker(140));
  m_series = new QStackedBarSeries;
  m_series->append(m_base);
  m_series->append(m_top);
  m_series->setBarWidth(0.75);
  m_chart->addSeries(m_series);
  m_x = new QBarCategoryAxis;
  m_x->setTitleText(style.x_title);
  m_y = new QValueAxis;
  m_y->setTitleText(style.y_title);
  style_axes(m_x, m_y);
  m_chart->addAxis(m_x, Qt::AlignBottom);
  m_chart->addAxis(m_y, Qt::AlignLeft);
  m_series->attachAxis(m_x);
  m_series->attachAxis(m_y);
  if (!style.line_name.isEmpty()) {
    m_line = new QLineSeries;
    m_line->setName(style.line_name);
    m_line->setPen(QPen(QColor(0x22, 0x22, 0x22), 2, Qt::DashLine));
    m_chart->addSeries(m_line);
    m_line->attachAxis(m_x);
    m_line->attachAxis(m_y);
  }
}

void StackedBarChart::setData(const StackedBars& bars, double y_max, int ticks, const QString& label_format) {
  const int n = int(bars.base.size());
  if (m_x->count() != n) {
    QStringList categories;
    for (int e = 0; e < n; ++e) categories << QString::number(e);
    m_x->clear();
    m_x->append(categories);
  }
  set_values(m_base, bars.base);
  set_values(m_top, bars.top);
  m_y->setLabelFormat(label_format);
  m_y->setRange(0, y_max);
  m_y->setTickCount(std::max(2, ticks));
}

void StackedBarChart::setLine(double y, const QString& name) {
  if (!m_line) return;
  m_line->setName(name);
  m_line->replace(QList<QPointF>{QPointF(-0.5, y), QPointF(std::max(0, m_x->count()) - 0.5, y)});
}

void StackedBarChart::clear() {
  set_values(m_base, {});
  set_values(m_top, {});
  m_x->clear();
  if (m_line) m_line->clear();
}

}  // namespace moescope::views
