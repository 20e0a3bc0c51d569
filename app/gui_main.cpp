// Entry point of `moescope-gui`, the desktop app. `moescope` (no command) and `moescope open PATH` exec it,
// so the headless commands never load Qt: `moescope --version` maps 6 MB instead of 25 MB, and bench's
// peak RSS is the engine's, not Qt's. Arguments: [open PATH] [--screenshots DIR] [--model PATH].
#include <hdf5.h>

#include <csignal>
#include <cstdio>
#include <string>

namespace moescope::gui {
int run_gui(int argc, char** argv, const std::string& open_path);
}

int main(int argc, char** argv) {
  std::signal(SIGXFSZ, SIG_IGN);  // see app/main.cpp: a failed write is reported, not a signal death
  H5dont_atexit();
  std::string open_path;
  if (argc >= 2) {
    const std::string cmd = argv[1];
    if (cmd == "--help" || cmd == "-h") {
      std::printf("usage: moescope-gui [open PATH]   open the desktop app on a checkpoint directory or .h5 trace\n"
                  "                                  (default: the demo checkpoint); `moescope` runs this too\n");
      return 0;
    }
    if (cmd == "--version") {
      std::printf("moescope-gui %s\n", MOESCOPE_VERSION);
      return 0;
    }
    if (cmd == "open") {
      if (argc < 3) {
        std::fprintf(stderr, "moescope open: error: missing PATH (a checkpoint directory or a .h5 trace)\n");
        return 2;
      }
      open_path = argv[2];
    } else if (cmd.rfind("-", 0) != 0) {
      open_path = cmd;  // `moescope-gui PATH`, as a file manager's "open with" passes it
    }
  }
  return moescope::gui::run_gui(argc, argv, open_path);
}
