// GUI entry point (under construction).
#include <QApplication>
#include <QLabel>
#include <string>

namespace moescope::gui {

int run_gui(int argc, char** argv, const std::string& open_path) {
  QApplication app(argc, argv);
  QLabel label("MoEScope");
  label.show();
  return app.exec();
}

}  // namespace moescope::gui
