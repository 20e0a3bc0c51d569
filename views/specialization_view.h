// SpecializationView: the specialisation map. An expert x category heatmap of normalised PMI (diverging
// colours centred at 0, colour bar; categories = prompt-suite labels such as the demo's python / c /
// prose / csv, or token classes), sortable by expert id, by max nPMI or by one category (click its
// column), each category's two most used experts outlined (the demo README's table), and the top tokens
// of each expert. The suite itself runs elsewhere (app/gui/suite_runner.h): this view asks for it
// (runSuiteRequested / cancelRequested) and shows progress; it works on any set of runs, live or read
// from a trace.
#pragma once
#include <QWidget>
#include <vector>

#include "probes/run_data.h"

class QComboBox;
class QCheckBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QTableWidget;

namespace moescope::views {

class MatrixHeatmap;
class SpecializationModel;

class SpecializationView : public QWidget {
  Q_OBJECT
 public:
  enum class Measure { Npmi, Share };
  explicit SpecializationView(QWidget* parent = nullptr);

  // All runs of a suite (labels = categories) or a single live run (token classes when it has one label).
  void setRuns(std::vector<RunSnapshot> runs);
  void setSnapshot(RunSnapshot run);
  void setLayer(int moe_layer);
  void setMeasure(Measure m);
  void setUseTokenClasses(bool on);

  SpecializationModel* model() const { return m_model; }
  MatrixHeatmap* heatmap() const { return m_heatmap; }
  QTableWidget* topTokensTable() const { return m_tokens; }
  QPushButton* runButton() const { return m_run; }
  QPushButton* cancelButton() const { return m_cancel; }
  QProgressBar* progressBar() const { return m_progress; }

 public slots:
  void setSuiteProgress(int done, int total, const QString& what);
  void setSuiteRunning(bool running);
  void setSuiteMessage(const QString& message);

 signals:
  void runSuiteRequested();
  void cancelRequested();

 private:
  void refresh();
  void syncControls();

  SpecializationModel* m_model;
  Measure m_measure = Measure::Npmi;
  QComboBox* m_source_box;
  QComboBox* m_layer_box;
  QComboBox* m_sort_box;
  QComboBox* m_measure_box;
  QCheckBox* m_top1_box;
  QPushButton* m_run;
  QPushButton* m_cancel;
  QProgressBar* m_progress;
  QLabel* m_status;
  MatrixHeatmap* m_heatmap;
  QTableWidget* m_tokens;
};

}  // namespace moescope::views
