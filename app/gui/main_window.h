// The main window: prompt panel (left dock), token chips (top dock), the two routing heatmaps
// (central tabs), token details and expert load (right / bottom docks), a toolbar with the stepping
// controls and the layer selector, File > Open / Open trace / Recent / Export trace. Everything the
// views show arrives as RunSnapshot through SessionController::snapshotChanged.
#pragma once
#include <QMainWindow>
#include <QMessageBox>
#include <QPointer>

#include "app/gui/session_types.h"

class QAction;
class QComboBox;
class QDockWidget;
class QLabel;
class QMenu;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTabWidget;

namespace moescope::views {
class ExpertLoadView;
class RoutingHeatmap;
class RoutingTableModel;
class TokenChips;
class TokenDetailsView;
}  // namespace moescope::views

namespace moescope::gui {

class PromptPanel;
class SessionController;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  SessionController* controller() const { return m_controller; }
  PromptPanel* promptPanel() const { return m_prompt; }
  views::RoutingHeatmap* expertHeatmap() const { return m_expert_heatmap; }
  views::RoutingHeatmap* layerHeatmap() const { return m_layer_heatmap; }
  views::TokenChips* tokenChips() const { return m_chips; }
  views::TokenDetailsView* tokenDetails() const { return m_details; }
  views::ExpertLoadView* expertLoad() const { return m_load; }
  QTabWidget* heatmapTabs() const { return m_tabs; }
  QComboBox* traceRunCombo() const { return m_run_combo; }
  QMessageBox* lastErrorBox() const { return m_error_box; }
  QAction* action(const QString& name) const;  // by objectName, e.g. "actionStep"
  QStringList recentFiles() const { return m_recent; }

  void open(const QString& path);
  void setLayer(int moe_layer);
  int layer() const;
  void selectToken(int token);
  // Loads prompt suites from a datasets directory (datasets/prompts/*.jsonl).
  void loadPromptSuites(const QString& datasets_dir);

 protected:
  void closeEvent(QCloseEvent* e) override;
  void dragEnterEvent(QDragEnterEvent* e) override;
  void dropEvent(QDropEvent* e) override;

 private:
  void createActions();
  void createDocks();
  void createToolBar();
  void createMenus();
  void updateActions();
  void applySnapshot(moescope::RunSnapshot run);
  void ensurePrompt();
  void onLoaded(const ModelSummary& s);
  void onLoadFailed(const QString& message, bool cancelled);
  void showError(const QString& title, const QString& message);
  void openModelDialog();
  void openTraceDialog();
  void exportDialog();
  void rebuildRecentMenu();
  void addRecent(const QString& path);
  void updateStatus();

  SessionController* m_controller;
  PromptPanel* m_prompt;
  views::RoutingTableModel* m_expert_model;
  views::RoutingTableModel* m_layer_model;
  views::RoutingHeatmap* m_expert_heatmap;
  views::RoutingHeatmap* m_layer_heatmap;
  views::TokenChips* m_chips;
  views::TokenDetailsView* m_details;
  views::ExpertLoadView* m_load;
  QTabWidget* m_tabs;
  QDockWidget* m_prompt_dock = nullptr;
  QDockWidget* m_chips_dock = nullptr;
  QDockWidget* m_details_dock = nullptr;
  QDockWidget* m_load_dock = nullptr;
  QComboBox* m_layer_combo;
  QComboBox* m_run_combo;
  QAction* m_run_combo_action = nullptr;
  QSpinBox* m_run_n;
  QProgressBar* m_progress;
  QPushButton* m_cancel_button;
  QLabel* m_status;
  QMenu* m_recent_menu = nullptr;
  QPointer<QMessageBox> m_error_box;
  QStringList m_recent;
  QString m_applied_prompt;
  bool m_prompt_applied = false;
  int m_tokens = 0, m_generated = 0;
  bool m_at_eos = false;
};

}  // namespace moescope::gui
