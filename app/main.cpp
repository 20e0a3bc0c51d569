// Entry point: `moescope <subcommand> ...` runs headless; `moescope` or `moescope open PATH` opens the GUI by
// exec'ing `moescope-gui` from the same directory (app/gui_main.cpp), so this executable never links Qt.
#include <hdf5.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "app/cli/cli.h"

// Replaces this process with the desktop app beside this executable, passing the arguments through.
static int exec_gui(char** argv) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  const fs::path gui = (ec ? fs::path(argv[0]).parent_path() : exe.parent_path()) / "moescope-gui";
  if (!fs::exists(gui, ec)) {
#ifdef MOESCOPE_WITH_GUI
    std::fprintf(stderr, "moescope: error: %s: the desktop app is missing (reinstall, or build the moescope-gui target)\n",
                 gui.c_str());
#else
    std::fprintf(stderr, "moescope: error: this build has no GUI (configured with MOESCOPE_GUI=OFF)\n");
#endif
    return 2;
  }
  std::string self = gui.string();
  argv[0] = self.data();
  execv(self.c_str(), argv);
  std::fprintf(stderr, "moescope: error: %s: cannot start the desktop app: %s\n", self.c_str(), std::strerror(errno));
  return 2;
}

static void print_usage() {
  std::printf("MoEScope %s: inspect Mixture-of-Experts routing\n\n", MOESCOPE_VERSION);
  std::printf("usage: moescope [open PATH]          open the desktop app (default: the demo checkpoint)\n");
  std::printf("       moescope <command> [options]  run headless\n\ncommands:\n");
  for (const auto& c : moescope::cli::commands()) std::printf("  %-10s %s\n", c.name, c.summary);
  std::printf("\nRun `moescope <command> --help` for a command's options.\n");
}

int main(int argc, char** argv) {
  // A file-size limit (ulimit -f) would kill us with SIGXFSZ mid-trace; ignored, the write fails with
  // EFBIG and the trace writer reports it as one error line like a full disk.
  std::signal(SIGXFSZ, SIG_IGN);
  // After a failed write HDF5 keeps a half-closed file id; its atexit cleanup then dereferences a null
  // pointer (H5F__close_cb, HDF5 1.10). Our files are closed by their owners before exit, so skip it.
  H5dont_atexit();
  if (argc >= 2) {
    const std::string cmd = argv[1];
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      print_usage();
      return 0;
    }
    if (cmd == "--version") {
      std::printf("moescope %s\n", MOESCOPE_VERSION);
      return 0;
    }
    for (const auto& c : moescope::cli::commands()) {
      if (cmd == c.name) {
        moescope::cli::Args args(argv + 2, argv + argc);
        try {
          return c.run(args);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "moescope %s: error: %s\n", c.name, e.what());
          return 1;
        }
      }
    }
    if (cmd == "open") {
      if (argc < 3) {
        std::fprintf(stderr, "moescope open: error: missing PATH (a checkpoint directory or a .h5 trace)\n");
        return 2;
      }
    } else if (cmd.rfind("-", 0) != 0) {
      std::fprintf(stderr, "moescope: error: unknown command '%s' (run `moescope --help`)\n", cmd.c_str());
      return 2;
    }
  }
  return exec_gui(argv);
}
