// GUI entry point: `moescope` (demo checkpoint), `moescope open PATH`, and the hidden
// `moescope --screenshots DIR [--model PATH]` mode that regenerates docs/screenshots.
#include <QApplication>
#include <QFile>
#include <QPalette>
#include <QStyle>
#include <QStyleFactory>
#include <QTimer>
#include <string>

#include "app/cli/cli.h"
#include "app/gui/main_window.h"
#include "app/gui/prompt_panel.h"
#include "app/gui/screenshots.h"

static void init_resources() { Q_INIT_RESOURCE(resources); }

namespace moescope::gui {

// Fusion with a light palette: the same dark-on-light look on every desktop (and in screenshots).
void apply_light_theme(QApplication& app) {
  init_resources();
  app.setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
  QPalette pal = app.style()->standardPalette();
  pal.setColor(QPalette::Window, QColor(0xf6, 0xf7, 0xf9));
  pal.setColor(QPalette::Base, Qt::white);
  pal.setColor(QPalette::Text, Qt::black);
  pal.setColor(QPalette::WindowText, QColor(0x1a, 0x1a, 0x1a));
  pal.setColor(QPalette::Highlight, QColor(0x21, 0x71, 0xb5));
  app.setPalette(pal);
  QFile qss(QStringLiteral(":/moescope/style.qss"));
  if (qss.open(QIODevice::ReadOnly)) app.setStyleSheet(QString::fromUtf8(qss.readAll()));
}

int run_gui(int argc, char** argv, const std::string& open_path) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("MoEScope"));
  QApplication::setApplicationName(QStringLiteral("moescope"));
  QApplication::setApplicationVersion(QStringLiteral(MOESCOPE_VERSION));
  apply_light_theme(app);

  QString screenshots_dir, model = QString::fromStdString(open_path);
  const QStringList args = app.arguments();
  for (int i = 1; i + 1 < args.size(); ++i) {
    if (args[i] == QLatin1String("--screenshots")) screenshots_dir = args[i + 1];
    if (args[i] == QLatin1String("--model")) model = args[i + 1];
  }
  if (model.isEmpty()) model = QString::fromStdString(cli::default_demo_model());

  MainWindow window;
  window.loadPromptSuites(QString::fromStdString(cli::default_datasets_dir()));
  if (!screenshots_dir.isEmpty()) return take_screenshots(window, screenshots_dir, model);

  if (window.promptPanel()->suiteCount() > 0) window.promptPanel()->selectSuiteEntry(0);
  window.show();
  QTimer::singleShot(0, &window, [&window, model] { window.open(model); });
  return app.exec();
}

}  // namespace moescope::gui
