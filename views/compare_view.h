// CompareView: one prompt under two or more routing strategies, side by side. Asks for the runs
// (runRequested; app/gui/compare_runner.h runs them on a worker thread) or takes runs from a compare
// trace (setRuns), compares them with strat's compare_runs (probes/comparison/comparison.h) and shows,
// for the selected pair and MoE layer, each run's router probabilities (tokens x experts, chosen
// experts outlined), their difference P_A - P_B, the per-position routing Jaccard of every layer, all
// stacked in one scroll area so they share the token axis, the per-position KL(P_A || P_B) of the
// next-token distributions as a line chart, the first divergent token marked everywhere, and the
// metrics table. Export writes CMP.h5.
#pragma once
#include <QStringList>
#include <QWidget>
#include <vector>

#include "probes/comparison/comparison.h"
#include "probes/run_data.h"

class QCheckBox;
class QChartView;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QScrollArea;
class QSpinBox;
class QTableView;

namespace moescope::views {

class CompareMetricsModel;
class MatrixHeatmap;

// Strategy specs typed as "native; topk:1; capacity:1" (';' or newline separated, blanks dropped).
QStringList parse_strategy_list(const QString& text);

class CompareView : public QWidget {
  Q_OBJECT
 public:
  static constexpr int kCellWidth = 22;  // token columns of every stacked heatmap
  explicit CompareView(QWidget* parent = nullptr);

  void setPrompt(const QString& text);
  void setStrategies(const QStringList& specs);
  // Runs of one prompt (e.g. from run_comparison or a compare trace); compares them at once.
  void setRuns(std::vector<RunSnapshot> runs, bool teacher_forced);
  void setPair(int pair);
  void setLayer(int moe_layer);
  // Writes the shown comparison to `path`; returns an error message ("" on success).
  QString exportComparison(const QString& path);

  const std::vector<RunSnapshot>& runs() const { return m_runs; }
  const ComparisonResult& result() const { return m_result; }
  int pair() const { return m_pair; }
  int layer() const { return m_layer; }
  CompareMetricsModel* metricsModel() const { return m_metrics; }
  MatrixHeatmap* heatmapA() const { return m_a; }
  MatrixHeatmap* heatmapB() const { return m_b; }
  MatrixHeatmap* differenceHeatmap() const { return m_diff; }
  MatrixHeatmap* agreementHeatmap() const { return m_jaccard; }
  QChartView* klChart() const { return m_kl; }
  QScrollArea* scrollArea() const { return m_scroll; }
  QTableView* metricsTable() const { return m_table; }
  QPushButton* runButton() const { return m_run; }
  QPushButton* cancelButton() const { return m_cancel; }

 public slots:
  void setRunning(bool running);
  void setProgress(int index, int total, const QString& what);
  void setMessage(const QString& message);

 signals:
  void runRequested(const QString& prompt, const QStringList& strategies, int max_new_tokens, bool teacher_forced);
  void cancelRequested();

 private:
  void refresh();
  void requestRun();
  void chooseExport();

  std::vector<RunSnapshot> m_runs;
  ComparisonResult m_result;
  bool m_teacher_forced = false;
  int m_pair = 0, m_layer = 0;
  CompareMetricsModel* m_metrics;
  QPlainTextEdit* m_prompt;
  QLineEdit* m_strategies;
  QSpinBox* m_max_new;
  QCheckBox* m_forced;
  QPushButton* m_run;
  QPushButton* m_cancel;
  QPushButton* m_export;
  QComboBox* m_pair_box;
  QComboBox* m_layer_box;
  QLabel* m_status;
  QScrollArea* m_scroll;
  MatrixHeatmap* m_a;
  MatrixHeatmap* m_b;
  MatrixHeatmap* m_diff;
  MatrixHeatmap* m_jaccard;
  QChartView* m_kl;
  QTableView* m_table;
};

}  // namespace moescope::views
