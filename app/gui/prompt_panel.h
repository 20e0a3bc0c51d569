// Prompt panel: free-text prompt, the prompt suites as a list (a click copies the prompt into the
// editor), sampling controls (greedy / temperature / top-p / seed / max new tokens) and the routing
// strategy as an editable combo of spec strings.
#pragma once
#include <QWidget>

#include "app/gui/prompt_suites.h"
#include "app/gui/session_types.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QListWidget;
class QPlainTextEdit;
class QSpinBox;

namespace moescope::gui {

class PromptPanel : public QWidget {
  Q_OBJECT
 public:
  explicit PromptPanel(QWidget* parent = nullptr);

  QString promptText() const;
  void setPromptText(const QString& text);
  SamplingChoice sampling() const;
  void setSampling(const SamplingChoice& s);
  QString strategy() const;
  void setStrategy(const QString& spec);
  void setStrategyError(const QString& message);  // empty clears
  void setSuites(const QVector<PromptEntry>& entries);
  int suiteCount() const;
  void selectSuiteEntry(int row);  // as if clicked

  static QStringList strategyPresets();

 signals:
  void samplingChanged(const moescope::gui::SamplingChoice& sampling);
  void strategyActivated(const QString& spec);

 private:
  void emitSampling();
  QPlainTextEdit* m_text;
  QListWidget* m_suites;
  QCheckBox* m_greedy;
  QDoubleSpinBox* m_temperature;
  QDoubleSpinBox* m_top_p;
  QSpinBox* m_seed;
  QSpinBox* m_max_tokens;
  QComboBox* m_strategy;
  QLabel* m_strategy_error;
  QVector<PromptEntry> m_entries;
};

}  // namespace moescope::gui
