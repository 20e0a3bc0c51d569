// DashboardView: the live throughput dashboard (Qt Charts). While a run generates it ingests the
// latest snapshot on a coalescing timer (at most 25 refreshes per second however often snapshots
// arrive) into a DashboardBuffer that keeps the last N minutes: tokens/s, ms per token for prefill and
// decode, resident memory, and the expert load share of the new tokens over time. A saved trace is
// replayed step by step on engine time. Per-layer time and probe overhead are not recorded in a
// RunData (whole-step times only), which the view says instead of drawing empty charts.
#pragma once
#include <QElapsedTimer>
#include <QTimer>
#include <QWidget>

#include "probes/run_data.h"
#include "views/dashboard_buffer.h"

class QChartView;
class QLabel;
class QSpinBox;

namespace moescope::views {

class DashboardView : public QWidget {
  Q_OBJECT
 public:
  static constexpr int kRefreshMs = 40;  // 25 Hz at most

  explicit DashboardView(QWidget* parent = nullptr);

  // Live: remember the newest snapshot; the timer ingests it at its next tick.
  void setSnapshot(RunSnapshot run);
  // A finished run (trace): one sample per engine step.
  void replay(RunSnapshot run);
  void setWindowMinutes(double minutes);
  void clear();

  const DashboardBuffer& buffer() const { return m_buffer; }
  int refreshCount() const { return m_ticks; }  // timer ticks that ingested a snapshot (tests check the coalescing)
  QChartView* throughputChart() const { return m_tps; }
  QChartView* latencyChart() const { return m_latency; }
  QChartView* memoryChart() const { return m_memory; }
  QChartView* loadChart() const { return m_load; }

 private:
  void tick();
  void rebuild();

  DashboardBuffer m_buffer;
  RunSnapshot m_pending;
  bool m_dirty = false;
  bool m_replayed = false;
  int m_ticks = 0;
  QTimer m_timer;
  QElapsedTimer m_clock;
  QSpinBox* m_minutes;
  QLabel* m_summary;
  QChartView* m_tps;
  QChartView* m_latency;
  QChartView* m_memory;
  QChartView* m_load;
};

}  // namespace moescope::views
