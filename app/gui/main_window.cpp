// MainWindow (see main_window.h).
#include "app/gui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSpinBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>

#include "app/gui/icons.h"
#include "app/gui/prompt_panel.h"
#include "app/gui/prompt_suites.h"
#include "app/gui/recent_files.h"
#include "app/gui/session_controller.h"
#include "app/gui/suite_runner.h"
#include "app/cli/cli.h"
#include "views/expert_load_view.h"
#include "views/routing_heatmap.h"
#include "views/routing_table_model.h"
#include "views/token_chips.h"
#include "views/token_details_view.h"

namespace moescope::gui {

using views::RoutingTableModel;

namespace {
QScrollArea* scrolled(QWidget* w) {
  auto* area = new QScrollArea;
  area->setWidget(w);
  area->setWidgetResizable(true);
  area->setBackgroundRole(QPalette::Base);
  return area;
}
}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent), m_controller(new SessionController(this)) {
  setObjectName(QStringLiteral("MoEScopeMainWindow"));
  setWindowTitle(QStringLiteral("MoEScope"));
  setWindowIcon(make_icon(IconKind::App));
  setAcceptDrops(true);
  setDockOptions(QMainWindow::AnimatedDocks | QMainWindow::AllowTabbedDocks | QMainWindow::AllowNestedDocks);

  m_expert_model = new RoutingTableModel(this);
  m_layer_model = new RoutingTableModel(this);
  m_layer_model->setMode(RoutingTableModel::Mode::Layers);
  m_expert_heatmap = new views::RoutingHeatmap(m_expert_model);
  m_expert_heatmap->setObjectName(QStringLiteral("expertHeatmap"));
  m_layer_heatmap = new views::RoutingHeatmap(m_layer_model);
  m_layer_heatmap->setObjectName(QStringLiteral("layerHeatmap"));
  m_tabs = new QTabWidget;
  m_tabs->addTab(scrolled(m_expert_heatmap), tr("Tokens \u00d7 experts"));
  m_tabs->addTab(scrolled(m_layer_heatmap), tr("Tokens \u00d7 layers"));
  setCentralWidget(m_tabs);

  m_prompt = new PromptPanel;
  m_chips = new views::TokenChips;
  m_chips->setObjectName(QStringLiteral("tokenChips"));
  m_details = new views::TokenDetailsView;
  m_details->setObjectName(QStringLiteral("tokenDetails"));
  m_load = new views::ExpertLoadView;
  m_load->setObjectName(QStringLiteral("expertLoad"));

  createActions();
  createToolBar();
  createDocks();
  createMenus();

  m_status = new QLabel;
  m_progress = new QProgressBar;
  m_progress->setRange(0, 1000);
  m_progress->setMaximumWidth(260);
  m_progress->setTextVisible(true);
  m_progress->hide();
  m_cancel_button = new QPushButton(tr("Cancel"));
  m_cancel_button->setObjectName(QStringLiteral("cancelLoadButton"));
  m_cancel_button->hide();
  statusBar()->addWidget(m_status, 1);
  statusBar()->addPermanentWidget(m_progress);
  statusBar()->addPermanentWidget(m_cancel_button);
  connect(m_cancel_button, &QPushButton::clicked, m_controller, &SessionController::cancel);

  // Controller -> window.
  connect(m_controller, &SessionController::snapshotChanged, this, &MainWindow::applySnapshot);
  connect(m_controller, &SessionController::stateChanged, this, [this] {
    const bool loading = m_controller->state() == SessionController::State::Loading;
    m_progress->setVisible(loading);
    m_cancel_button->setVisible(loading);
    updateActions();
    updateStatus();
  });
  connect(m_controller, &SessionController::loadProgress, this, [this](double f, const QString& what) {
    m_progress->setValue(int(f * 1000));
    m_progress->setFormat(QStringLiteral("%p%"));
    m_status->setText(what);
  });
  connect(m_controller, &SessionController::loaded, this, &MainWindow::onLoaded);
  connect(m_controller, &SessionController::loadFailed, this, &MainWindow::onLoadFailed);
  connect(m_controller, &SessionController::operationFailed, this,
          [this](const QString& msg) { showError(tr("Operation failed"), msg); });
  connect(m_controller, &SessionController::strategyFailed, m_prompt, &PromptPanel::setStrategyError);
  connect(m_controller, &SessionController::strategyChanged, m_prompt, &PromptPanel::setStrategy);
  connect(m_controller, &SessionController::sequenceChanged, this, [this](int n, int gen, bool eos) {
    m_tokens = n;
    m_generated = gen;
    m_at_eos = eos;
    updateStatus();
  });
  connect(m_controller, &SessionController::exportFinished, this, [this](const QString& path, const QString& err) {
    if (err.isEmpty()) {
      statusBar()->showMessage(tr("Trace written to %1").arg(path), 8000);
      addRecent(path);
    } else {
      showError(tr("Export failed"), err);
    }
  });

  // Panel -> controller.
  connect(m_prompt, &PromptPanel::strategyActivated, this, [this](const QString& spec) {
    m_prompt->setStrategyError(QString());
    m_controller->setStrategy(spec);
  });
  connect(m_prompt, &PromptPanel::samplingChanged, m_controller, &SessionController::setSampling);

  // Token selection from any view.
  connect(m_chips, &views::TokenChips::tokenClicked, this, &MainWindow::selectToken);
  connect(m_expert_heatmap, &views::RoutingHeatmap::tokenClicked, this, &MainWindow::selectToken);
  connect(m_layer_heatmap, &views::RoutingHeatmap::tokenClicked, this, &MainWindow::selectToken);

  QSettings settings;
  m_recent = load_recent(settings);
  rebuildRecentMenu();
  resize(1500, 950);
  restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
  restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
  updateActions();
  updateStatus();
}

MainWindow::~MainWindow() = default;

void MainWindow::createActions() {
  auto add = [this](const char* name, const QString& text, IconKind icon, const QKeySequence& key, auto fn) {
    auto* a = new QAction(make_icon(icon), text, this);
    a->setObjectName(QLatin1String(name));
    a->setShortcut(key);
    a->setToolTip(key.isEmpty() ? text : QStringLiteral("%1 (%2)").arg(text, key.toString(QKeySequence::NativeText)));
    connect(a, &QAction::triggered, this, fn);
    addAction(a);
    return a;
  };
  add("actionOpen", tr("&Open checkpoint..."), IconKind::Open, QKeySequence::Open, [this] { openModelDialog(); });
  add("actionOpenTrace", tr("Open &trace..."), IconKind::OpenTrace, QKeySequence(tr("Ctrl+Shift+O")), [this] { openTraceDialog(); });
  add("actionExport", tr("&Export trace..."), IconKind::Export, QKeySequence(tr("Ctrl+E")), [this] { exportDialog(); });
  add("actionStep", tr("Step"), IconKind::Step, QKeySequence(Qt::Key_F10), [this] {
    ensurePrompt();
    m_controller->step();
  });
  add("actionStepBack", tr("Step back"), IconKind::StepBack, QKeySequence(Qt::SHIFT | Qt::Key_F10),
      [this] { m_controller->stepBack(); });
  add("actionRunN", tr("Run N"), IconKind::RunN, QKeySequence(Qt::Key_F6), [this] {
    ensurePrompt();
    m_controller->run(m_run_n->value());
  });
  add("actionRunToEnd", tr("Run to end"), IconKind::RunToEnd, QKeySequence(Qt::Key_F5), [this] {
    ensurePrompt();
    m_controller->runToEnd();
  });
  add("actionPause", tr("Pause"), IconKind::Pause, QKeySequence(Qt::Key_Escape), [this] { m_controller->pause(); });
  add("actionReset", tr("Reset"), IconKind::Reset, QKeySequence(tr("Ctrl+R")), [this] {
    if (m_prompt_applied && m_prompt->promptText() == m_applied_prompt)
      m_controller->reset();
    else
      ensurePrompt();  // a new prompt starts a fresh sequence anyway
  });
}

QAction* MainWindow::action(const QString& name) const { return findChild<QAction*>(name); }

void MainWindow::createToolBar() {
  auto* tb = addToolBar(tr("Controls"));
  tb->setObjectName(QStringLiteral("controlsToolBar"));
  tb->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  tb->addAction(action(QStringLiteral("actionOpen")));
  tb->addSeparator();
  tb->addAction(action(QStringLiteral("actionStepBack")));
  tb->addAction(action(QStringLiteral("actionStep")));
  m_run_n = new QSpinBox;
  m_run_n->setObjectName(QStringLiteral("runNSpin"));
  m_run_n->setRange(1, 4096);
  m_run_n->setValue(8);
  m_run_n->setPrefix(tr("N = "));
  m_run_n->setToolTip(tr("Tokens generated by Run N"));
  tb->addAction(action(QStringLiteral("actionRunN")));
  tb->addWidget(m_run_n);
  tb->addAction(action(QStringLiteral("actionRunToEnd")));
  tb->addAction(action(QStringLiteral("actionPause")));
  tb->addAction(action(QStringLiteral("actionReset")));
  tb->addSeparator();
  tb->addWidget(new QLabel(tr(" Layer: ")));
  m_layer_combo = new QComboBox;
  m_layer_combo->setObjectName(QStringLiteral("layerCombo"));
  m_layer_combo->setMinimumContentsLength(8);
  m_layer_combo->setToolTip(tr("MoE layer shown by the chips, the tokens \u00d7 experts heatmap, the load chart and token details"));
  tb->addWidget(m_layer_combo);
  connect(m_layer_combo, &QComboBox::currentIndexChanged, this, [this](int i) {
    if (i < 0) return;
    m_expert_model->setLayer(i);
    m_chips->setLayer(i);
    m_load->setLayer(i);
    m_details->setLayer(i);
  });
  m_run_combo = new QComboBox;
  m_run_combo->setObjectName(QStringLiteral("traceRunCombo"));
  m_run_combo->setToolTip(tr("Run of the open trace (a comparison trace holds one run per strategy)"));
  tb->addSeparator();
  m_run_combo_action = tb->addWidget(m_run_combo);
  m_run_combo_action->setVisible(false);
  connect(m_run_combo, &QComboBox::currentIndexChanged, this, [this](int i) { m_controller->selectTraceRun(i); });
  tb->addSeparator();
  tb->addAction(action(QStringLiteral("actionExport")));
}

void MainWindow::createDocks() {
  auto dock = [this](const QString& title, const char* name, QWidget* w, Qt::DockWidgetArea area) {
    auto* d = new QDockWidget(title, this);
    d->setObjectName(QLatin1String(name));
    d->setWidget(w);
    addDockWidget(area, d);
    return d;
  };
  m_prompt_dock = dock(tr("Prompt"), "promptDock", m_prompt, Qt::LeftDockWidgetArea);
  m_chips_dock = dock(tr("Tokens (coloured by top-1 expert)"), "chipsDock", scrolled(m_chips), Qt::TopDockWidgetArea);
  m_details_dock = dock(tr("Token details"), "detailsDock", m_details, Qt::RightDockWidgetArea);
  m_load_dock = dock(tr("Expert load"), "loadDock", m_load, Qt::BottomDockWidgetArea);
  // The prompt and details docks run the full height; the load dock sits under the heatmaps.
  setCorner(Qt::TopLeftCorner, Qt::LeftDockWidgetArea);
  setCorner(Qt::BottomLeftCorner, Qt::LeftDockWidgetArea);
  setCorner(Qt::TopRightCorner, Qt::RightDockWidgetArea);
  setCorner(Qt::BottomRightCorner, Qt::RightDockWidgetArea);
  resizeDocks({m_prompt_dock, m_details_dock}, {320, 480}, Qt::Horizontal);
  resizeDocks({m_chips_dock, m_load_dock}, {140, 300}, Qt::Vertical);
}

void MainWindow::createMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(action(QStringLiteral("actionOpen")));
  file->addAction(action(QStringLiteral("actionOpenTrace")));
  m_recent_menu = file->addMenu(tr("Open &recent"));
  file->addSeparator();
  file->addAction(action(QStringLiteral("actionExport")));
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
  QMenu* run = menuBar()->addMenu(tr("&Run"));
  for (const char* n : {"actionStep", "actionStepBack", "actionRunN", "actionRunToEnd", "actionPause", "actionReset"})
    run->addAction(action(QLatin1String(n)));
  QMenu* view = menuBar()->addMenu(tr("&View"));
  for (QDockWidget* d : {m_prompt_dock, m_chips_dock, m_details_dock, m_load_dock}) view->addAction(d->toggleViewAction());
  view->addSeparator();
  // Part II analysis views (drift, specialisation map, throughput, compare): hidden docks, toggled here.
  install_analysis_views(this, m_controller, view, QString::fromStdString(cli::default_datasets_dir()));
  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About MoEScope"), this, [this] {
    QMessageBox::about(this, tr("About MoEScope"),
                       tr("<b>MoEScope %1</b><p>Step through prompts on a Mixture-of-Experts checkpoint and inspect "
                          "how its router assigns tokens to experts.</p>")
                           .arg(QApplication::applicationVersion()));
  });
}

void MainWindow::updateActions() {
  const auto st = m_controller->state();
  const bool ready = st == SessionController::State::Ready;
  const bool busy = st == SessionController::State::Busy;
  for (const char* n : {"actionStep", "actionStepBack", "actionRunN", "actionRunToEnd", "actionReset"})
    action(QLatin1String(n))->setEnabled(ready);
  action(QStringLiteral("actionPause"))->setEnabled(busy);
  const auto run = m_controller->snapshot();
  action(QStringLiteral("actionExport"))->setEnabled(!busy && run && run->num_tokens() > 0);
  m_prompt->setEnabled(st != SessionController::State::Trace);
}

void MainWindow::updateStatus() {
  const ModelSummary& s = m_controller->summary();
  QString text;
  switch (m_controller->state()) {
    case SessionController::State::Empty:
      text = tr("No model open: File > Open checkpoint (Ctrl+O), or drop a checkpoint directory or .h5 trace here.");
      break;
    case SessionController::State::Loading:
      return;  // progress messages own the label
    case SessionController::State::Trace:
      text = tr("Trace %1: %2, %3 MoE layers, %4 experts, strategy %5 (read-only)")
                 .arg(s.name, s.family)
                 .arg(s.moe_layers)
                 .arg(s.experts)
                 .arg(m_controller->strategy());
      break;
    default:
      text = tr("%1 (%2, %11 weights): %3 layers, %4 experts, k=%5 | strategy %6 | %7 tokens, %8 generated%9%10")
                 .arg(s.name, s.family)
                 .arg(s.layers)
                 .arg(s.experts)
                 .arg(s.k)
                 .arg(m_controller->strategy())
                 .arg(m_tokens)
                 .arg(m_generated)
                 .arg(m_at_eos ? tr(" (EOS)") : QString())
                 .arg(m_controller->state() == SessionController::State::Busy ? tr(" | running... (Esc to pause)") : QString())
                 .arg(s.weights);
  }
  m_status->setText(text);
}

void MainWindow::applySnapshot(RunSnapshot run) {
  const int layers = run ? run->num_moe_layers() : 0;
  if (layers != m_layer_combo->count()) {
    const int keep = std::max(0, m_layer_combo->currentIndex());
    QSignalBlocker block(m_layer_combo);
    m_layer_combo->clear();
    for (int l = 0; l < layers; ++l) m_layer_combo->addItem(tr("layer %1").arg(run->moe_layers[size_t(l)]));
    m_layer_combo->setCurrentIndex(std::min(keep, layers - 1));
  }
  const int layer = std::max(0, m_layer_combo->currentIndex());
  m_expert_model->setSnapshot(run);
  m_expert_model->setLayer(layer);
  m_layer_model->setSnapshot(run);
  m_chips->setSnapshot(run);
  m_chips->setLayer(layer);
  m_load->setSnapshot(run);
  m_load->setLayer(layer);
  m_details->setSnapshot(run);
  m_details->setLayer(layer);
  if (m_controller->state() == SessionController::State::Trace) {
    m_tokens = run ? run->num_tokens() : 0;
  }
  updateActions();
}

void MainWindow::setLayer(int moe_layer) { m_layer_combo->setCurrentIndex(moe_layer); }
int MainWindow::layer() const { return m_layer_combo->currentIndex(); }

void MainWindow::selectToken(int token) {
  m_chips->setSelectedToken(token);
  m_expert_heatmap->setSelectedToken(token);
  m_layer_heatmap->setSelectedToken(token);
  m_details->setToken(token);
  m_details_dock->raise();
}

void MainWindow::ensurePrompt() {
  const QString text = m_prompt->promptText();
  if (m_prompt_applied && text == m_applied_prompt) return;
  m_controller->setSampling(m_prompt->sampling());
  m_controller->setPrompt(text);
  m_applied_prompt = text;
  m_prompt_applied = true;
}

void MainWindow::loadPromptSuites(const QString& datasets_dir) {
  m_prompt->setSuites(load_prompt_suites(QDir(datasets_dir).filePath(QStringLiteral("prompts"))));
}

void MainWindow::open(const QString& path) {
  // The sequence counters and the applied prompt are reset in onLoaded: a failed or cancelled open
  // keeps the open model and its sequence, which the next Step continues. The panel's strategy goes
  // to the new model only, not to the open one.
  m_controller->open(path, m_prompt->strategy());
}

void MainWindow::onLoaded(const ModelSummary& s) {
  m_prompt_applied = false;
  m_tokens = m_generated = 0;
  m_at_eos = false;
  {
    QSignalBlocker block(m_run_combo);
    m_run_combo->clear();
    m_run_combo->addItems(m_controller->traceRuns());
  }
  m_run_combo_action->setVisible(m_run_combo->count() > 1);
  setWindowTitle(QStringLiteral("%1 \u2014 MoEScope").arg(s.name));
  addRecent(s.path);
  // Still loading when a newer open is running (the controller reports a model that finished first).
  const bool loading = m_controller->state() == SessionController::State::Loading;
  m_progress->setVisible(loading);
  m_cancel_button->setVisible(loading);
  if (!s.is_trace) m_controller->setSampling(m_prompt->sampling());
  updateStatus();
  updateActions();
}

void MainWindow::onLoadFailed(const QString& message, bool cancelled) {
  if (cancelled) {
    statusBar()->showMessage(tr("Loading cancelled."), 5000);
    updateStatus();
    return;
  }
  showError(tr("Could not open"), message);
  updateStatus();
}

void MainWindow::showError(const QString& title, const QString& message) {
  // Window-modal and non-blocking (open(), not exec()): the event loop keeps running, tests can read it.
  if (m_error_box) m_error_box->close();
  auto* box = new QMessageBox(QMessageBox::Critical, title, message, QMessageBox::Ok, this);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_error_box = box;
  box->open();
  statusBar()->showMessage(message, 10000);
}

void MainWindow::openModelDialog() {
  const QString start = m_recent.isEmpty() ? QDir::homePath() : QFileInfo(m_recent.first()).absolutePath();
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Open checkpoint directory"), start);
  if (!dir.isEmpty()) open(dir);
}

void MainWindow::openTraceDialog() {
  const QString file = QFileDialog::getOpenFileName(this, tr("Open trace"), QString(), tr("MoEScope traces (*.h5 *.hdf5)"));
  if (!file.isEmpty()) open(file);
}

void MainWindow::exportDialog() {
  QString file = QFileDialog::getSaveFileName(this, tr("Export trace"), QStringLiteral("trace.h5"), tr("HDF5 trace (*.h5)"));
  if (file.isEmpty()) return;
  if (!file.endsWith(QLatin1String(".h5"))) file += QStringLiteral(".h5");
  m_controller->exportTrace(file);
}

void MainWindow::addRecent(const QString& path) {
  m_recent = push_recent(m_recent, path);
  QSettings settings;
  save_recent(settings, m_recent);
  rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
  if (!m_recent_menu) return;
  m_recent_menu->clear();
  for (const QString& p : m_recent) m_recent_menu->addAction(p, this, [this, p] { open(p); });
  m_recent_menu->setEnabled(!m_recent.isEmpty());
}

void MainWindow::closeEvent(QCloseEvent* e) {
  QSettings settings;
  settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
  settings.setValue(QStringLiteral("window/state"), saveState());
  m_controller->cancel();
  QMainWindow::closeEvent(e);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
  if (e->mimeData()->hasUrls() && !e->mimeData()->urls().isEmpty() && e->mimeData()->urls().first().isLocalFile())
    e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
  const QString path = e->mimeData()->urls().first().toLocalFile();
  e->acceptProposedAction();
  open(path);
}

}  // namespace moescope::gui
