// Screenshot mode (see screenshots.h).
#include "app/gui/screenshots.h"

#include <QAction>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QSpinBox>
#include <QTabWidget>
#include <QThread>
#include <cstdio>

#include "app/gui/main_window.h"
#include "app/gui/prompt_panel.h"
#include "app/gui/session_controller.h"
#include "views/expert_load_view.h"
#include "views/routing_heatmap.h"
#include "views/routing_table_model.h"
#include "views/token_chips.h"
#include "views/token_details_view.h"

namespace moescope::gui {

bool wait_until(const std::function<bool()>& done, int timeout_ms) {
  QElapsedTimer t;
  t.start();
  while (!done() && t.elapsed() < timeout_ms) {
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    QThread::msleep(2);
  }
  return done();
}

namespace {
bool save(QWidget* w, const QString& dir, const QString& name, QRect area = QRect()) {
  QCoreApplication::processEvents();
  const QString path = QDir(dir).filePath(name);
  const bool ok = w->grab(area.isValid() ? area : QRect(QPoint(0, 0), QSize(-1, -1))).save(path);
  std::fprintf(ok ? stdout : stderr, "%s %s\n", ok ? "wrote" : "could not write", qPrintable(path));
  return ok;
}
// A heatmap on the window's model at a size chosen for the picture (the docked one follows the window).
bool save_heatmap(views::RoutingHeatmap* docked, const QString& dir, const QString& name) {
  views::RoutingHeatmap standalone(docked->model());
  standalone.setSelectedToken(docked->selectedToken());
  standalone.resize(std::max(900, standalone.minimumSizeHint().width()),
                    docked->model()->mode() == views::RoutingTableModel::Mode::Experts ? 560 : 380);
  standalone.setAttribute(Qt::WA_DontShowOnScreen);
  standalone.show();
  return save(&standalone, dir, name, standalone.contentRect());
}
}  // namespace

int take_screenshots(MainWindow& w, const QString& out_dir, const QString& model_path) {
  QDir().mkpath(out_dir);
  SessionController* c = w.controller();
  int sequences = 0;
  QString failure;
  QObject::connect(c, &SessionController::sequenceChanged, &w, [&](int, int, bool) { ++sequences; });
  QObject::connect(c, &SessionController::loadFailed, &w, [&](const QString& m, bool) { failure = m; });
  QObject::connect(c, &SessionController::operationFailed, &w, [&](const QString& m) { failure = m; });
  w.resize(1680, 1050);
  w.show();
  w.open(model_path);
  if (!wait_until([&] { return c->state() == SessionController::State::Ready || !failure.isEmpty(); }, 120000)) {
    std::fprintf(stderr, "screenshots: %s did not load in time\n", qPrintable(model_path));
    return 1;
  }
  if (!failure.isEmpty()) {
    std::fprintf(stderr, "screenshots: %s\n", qPrintable(failure));
    return 1;
  }
  if (w.promptPanel()->suiteCount() > 0) w.promptPanel()->selectSuiteEntry(0);
  auto run_and_wait = [&](const char* action_name) {
    const int before = sequences;
    w.action(QLatin1String(action_name))->trigger();
    return wait_until([&] { return sequences > before && c->state() == SessionController::State::Ready; }, 120000);
  };
  // Prompt: set + prefill (two operations), then 24 generated tokens.
  if (!run_and_wait("actionStep") || !wait_until([&] { return c->snapshot() && c->snapshot()->num_tokens() > 0; }, 30000)) {
    std::fprintf(stderr, "screenshots: prefill failed: %s\n", qPrintable(failure));
    return 1;
  }
  w.findChild<QSpinBox*>(QStringLiteral("runNSpin"))->setValue(24);
  if (!run_and_wait("actionRunN")) {
    std::fprintf(stderr, "screenshots: run failed: %s\n", qPrintable(failure));
    return 1;
  }
  c->pollNow();
  QCoreApplication::processEvents();
  const auto run = c->snapshot();
  const int layer = run && run->num_moe_layers() > 2 ? 2 : 0;
  w.setLayer(layer);
  const int token = run ? std::max(0, run->num_tokens() - 20) : 0;
  w.selectToken(token);
  w.expertLoad()->setCapacityFactor(1.0);
  QCoreApplication::processEvents();

  bool ok = save(&w, out_dir, QStringLiteral("main_window.png"));
  w.heatmapTabs()->setCurrentIndex(0);
  ok &= save_heatmap(w.expertHeatmap(), out_dir, QStringLiteral("heatmap_experts.png"));
  w.heatmapTabs()->setCurrentIndex(1);
  QCoreApplication::processEvents();
  ok &= save_heatmap(w.layerHeatmap(), out_dir, QStringLiteral("heatmap_layers.png"));
  w.heatmapTabs()->setCurrentIndex(0);
  ok &= save(w.tokenChips(), out_dir, QStringLiteral("token_chips.png"));
  ok &= save(w.tokenDetails(), out_dir, QStringLiteral("token_details.png"));
  ok &= save(w.expertLoad(), out_dir, QStringLiteral("expert_load.png"));
  ok &= save(w.promptPanel(), out_dir, QStringLiteral("prompt_panel.png"));

  // The same prompt under a tight capacity: dropped tokens are marked in the heatmap.
  w.promptPanel()->setStrategy(QStringLiteral("capacity:1.0"));
  emit w.promptPanel()->strategyActivated(QStringLiteral("capacity:1.0"));
  if (run_and_wait("actionReset") && run_and_wait("actionStep") && run_and_wait("actionRunN")) {
    c->pollNow();
    QCoreApplication::processEvents();
    w.setLayer(layer);
    ok &= save_heatmap(w.expertHeatmap(), out_dir, QStringLiteral("heatmap_capacity.png"));
  } else {
    std::fprintf(stderr, "screenshots: capacity run failed: %s\n", qPrintable(failure));
    ok = false;
  }
  return ok ? 0 : 1;
}

}  // namespace moescope::gui
