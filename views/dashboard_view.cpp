// DashboardView (see dashboard_view.h).
#include "views/dashboard_view.h"

#include <QAreaSeries>
#include <QChart>
#include <QChartView>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineSeries>
#include <QScatterSeries>
#include <QSpinBox>
#include <QValueAxis>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "views/chart_style.h"
#include "views/palette.h"

namespace moescope::views {

namespace {
QChartView* make_chart(QWidget* parent, const QString& title) {
  auto* v = new QChartView(new QChart(), parent);
  v->setRenderHint(QPainter::Antialiasing);
  v->chart()->setTitle(title);
  v->chart()->setMargins(QMargins(4, 4, 4, 4));
  v->chart()->legend()->setAlignment(Qt::AlignBottom);
  v->setMinimumSize(320, 220);
  return v;
}

void clear_chart(QChart* c) {
  c->removeAllSeries();
  for (QAbstractAxis* a : c->axes()) {
    c->removeAxis(a);
    delete a;
  }
}

// Attaches x (time) and y axes to every series of the chart.
void add_axes(QChart* c, double x0, double x1, double y0, double y1, const QString& xt, const QString& yt) {
  auto* ax = new QValueAxis();
  auto* ay = new QValueAxis();
  ax->setRange(x0, std::max(x1, x0 + 1e-3));
  ay->setRange(y0, std::max(y1, y0 + 1e-6));
  ax->setTitleText(xt);
  ay->setTitleText(yt);
  ay->applyNiceNumbers();
  ax->applyNiceNumbers();
  c->addAxis(ax, Qt::AlignBottom);
  c->addAxis(ay, Qt::AlignLeft);
  for (QAbstractSeries* s : c->series()) s->attachAxis(ax), s->attachAxis(ay);
  style_axes(ax, ay);
}
}  // namespace

DashboardView::DashboardView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  auto* top = new QHBoxLayout();
  m_summary = new QLabel(this);
  m_minutes = new QSpinBox(this);
  m_minutes->setRange(1, 60);
  m_minutes->setValue(5);
  m_minutes->setPrefix(tr("keep last "));
  m_minutes->setSuffix(tr(" min"));
  top->addWidget(m_summary, 1);
  top->addWidget(m_minutes);
  layout->addLayout(top);
  auto* grid = new QGridLayout();
  m_tps = make_chart(this, tr("Throughput (tokens per second of engine time)"));
  m_latency = make_chart(this, tr("Milliseconds per token: prefill vs decode"));
  m_memory = make_chart(this, tr("Resident memory of the process"));
  m_load = make_chart(this, tr("Expert load of the new tokens (all MoE layers)"));
  grid->addWidget(m_tps, 0, 0);
  grid->addWidget(m_latency, 0, 1);
  grid->addWidget(m_memory, 1, 0);
  grid->addWidget(m_load, 1, 1);
  layout->addLayout(grid, 1);
  auto* note = new QLabel(tr("Per-layer time and probe overhead: not recorded (a run records whole engine-step times only)."), this);
  note->setStyleSheet(QStringLiteral("color: #555"));
  layout->addWidget(note);

  m_timer.setInterval(kRefreshMs);
  connect(&m_timer, &QTimer::timeout, this, &DashboardView::tick);
  connect(m_minutes, qOverload<int>(&QSpinBox::valueChanged), this, [this](int m) { setWindowMinutes(m); });
  m_clock.start();
  rebuild();
}

void DashboardView::setWindowMinutes(double minutes) {
  m_buffer.setWindow(minutes * 60.0);
  if (m_minutes->value() != int(minutes)) m_minutes->setValue(int(minutes));
  rebuild();
}

void DashboardView::clear() {
  m_buffer.clear();
  m_pending.reset();
  m_dirty = false;
  rebuild();
}

void DashboardView::setSnapshot(RunSnapshot run) {
  if (m_replayed) {  // a live session after a trace: start over
    m_buffer.clear();
    m_replayed = false;
  }
  m_pending = std::move(run);
  m_dirty = true;
  if (!m_timer.isActive()) m_timer.start();
}

void DashboardView::replay(RunSnapshot run) {
  m_timer.stop();
  m_pending.reset();
  m_dirty = false;
  m_replayed = true;
  if (run) m_buffer.replay(*run);
  else m_buffer.clear();
  rebuild();
}

void DashboardView::tick() {
  if (!m_dirty) {
    m_timer.stop();  // idle: no ticks until the next snapshot
    return;
  }
  m_dirty = false;
  ++m_ticks;
  if (m_pending && m_buffer.ingest(*m_pending, m_clock.elapsed() / 1000.0, current_rss_mb())) rebuild();
}

void DashboardView::rebuild() {
  const auto& s = m_buffer.samples();
  const QString xt = m_replayed ? tr("engine time (s)") : tr("time (s)");
  const double x1 = s.empty() ? 1.0 : s.back().t_s;
  const double x0 = s.empty() ? 0.0 : std::min(s.front().t_s, x1 - 1e-3);

  // At most kMaxPoints plotted per series (a 5-minute buffer at 25 Hz holds 7500 samples): every
  // stride-th sample and the newest, so a refresh stays cheap however long the session runs.
  constexpr size_t kMaxPoints = 600;
  const size_t stride = std::max<size_t>(1, (s.size() + kMaxPoints - 1) / kMaxPoints);
  std::vector<const DashboardSample*> shown;
  for (size_t i = 0; i < s.size(); i += stride) shown.push_back(&s[i]);
  if (!s.empty() && shown.back() != &s.back()) shown.push_back(&s.back());

  QChart* c = m_tps->chart();
  clear_chart(c);
  auto* tps = new QLineSeries();
  tps->setName(tr("tokens/s"));
  double ymax = 1;
  for (const DashboardSample* q : shown)
    if (const auto& p = *q; std::isfinite(p.tokens_per_s)) tps->append(p.t_s, p.tokens_per_s), ymax = std::max(ymax, p.tokens_per_s);
  tps->setPointsVisible(shown.size() < 80);
  c->addSeries(tps);
  c->legend()->setVisible(false);
  add_axes(c, x0, x1, 0, ymax * 1.1, xt, tr("tokens / s"));

  c = m_latency->chart();
  clear_chart(c);
  auto* pre = new QScatterSeries();
  auto* dec = new QLineSeries();
  pre->setName(tr("prefill (ms per prompt token)"));
  dec->setName(tr("decode (ms per token)"));
  pre->setMarkerSize(9);
  pre->setColor(QColor(0xe6, 0x55, 0x0d));
  dec->setColor(QColor(0x21, 0x71, 0xb5));
  ymax = 0.01;
  for (const DashboardSample* q : shown) {
    const auto& p = *q;
    if (std::isfinite(p.prefill_ms_per_token)) pre->append(p.t_s, p.prefill_ms_per_token), ymax = std::max(ymax, p.prefill_ms_per_token);
    if (std::isfinite(p.decode_ms_per_token)) dec->append(p.t_s, p.decode_ms_per_token), ymax = std::max(ymax, p.decode_ms_per_token);
  }
  dec->setPointsVisible(shown.size() < 80);
  c->addSeries(dec);
  c->addSeries(pre);
  c->legend()->setVisible(true);
  add_axes(c, x0, x1, 0, ymax * 1.15, xt, tr("ms / token"));

  c = m_memory->chart();
  clear_chart(c);
  auto* rss = new QLineSeries();
  rss->setName(tr("RSS"));
  ymax = 1;
  for (const DashboardSample* q : shown)
    if (const auto& p = *q; std::isfinite(p.rss_mb)) rss->append(p.t_s, p.rss_mb), ymax = std::max(ymax, p.rss_mb);
  c->addSeries(rss);
  c->legend()->setVisible(false);
  c->setTitle(rss->count() ? tr("Resident memory of the process") : tr("Resident memory (not recorded in a saved trace)"));
  add_axes(c, x0, x1, 0, ymax * 1.1, xt, tr("MiB"));

  c = m_load->chart();
  clear_chart(c);
  const int E = m_buffer.numExperts();
  std::vector<double> below(shown.size(), 0.0);
  for (int e = 0; e < E; ++e) {
    auto* lower = new QLineSeries();
    auto* upper = new QLineSeries();
    size_t i = 0;
    for (const DashboardSample* q : shown) {
      const auto& p = *q;
      const double v = e < int(p.load.size()) ? p.load[size_t(e)] : 0.0;
      lower->append(p.t_s, below[i]);
      below[i] += v;
      upper->append(p.t_s, below[i]);
      ++i;
    }
    auto* area = new QAreaSeries(upper, lower);
    upper->setParent(area);  // QAreaSeries does not own its boundary series
    lower->setParent(area);
    area->setName(QStringLiteral("E%1").arg(e));
    area->setColor(expert_colour(e));
    area->setBorderColor(expert_colour(e).darker(130));
    c->addSeries(area);
  }
  c->legend()->setAlignment(Qt::AlignRight);
  c->legend()->setVisible(E > 0);
  QFont lf = c->legend()->font();
  lf.setPointSizeF(std::max(6.0, lf.pointSizeF() - 2.5));
  c->legend()->setFont(lf);
  add_axes(c, x0, x1, 0, 1, xt, tr("share of selections"));

  if (s.empty()) {
    m_summary->setText(tr("No engine steps yet: generate tokens (or open a trace) to see throughput."));
  } else {
    const auto& last = s.back();
    const double span = s.back().t_s - s.front().t_s;
    m_summary->setText(tr("%1 samples over %2; last: %3 tokens/s, sequence %4 tokens%5")
                           .arg(s.size())
                           .arg(span < 1.0 ? tr("%1 ms").arg(span * 1000.0, 0, 'f', 1) : tr("%1 s").arg(span, 0, 'f', 1)).arg(last.tokens_per_s, 0, 'f', 1).arg(last.tokens)
                           .arg(std::isfinite(last.rss_mb) ? tr(", RSS %1 MiB").arg(last.rss_mb, 0, 'f', 0) : QString()));
  }
}

}  // namespace moescope::views
