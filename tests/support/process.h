// Runs the built `moescope` binary as a user would (through the shell) and captures what it printed.
#pragma once
#include <string>

namespace moescope::test {

struct ProcResult {
  int code = -1;      // exit status; -1 when it did not exit normally (a signal)
  std::string out, err;
};

// `moescope <args>`: args is shell text (quote paths yourself); stdin_bytes is fed on standard input.
ProcResult run_moescope(const std::string& args, const std::string& stdin_bytes = "");

std::string slurp(const std::string& path);  // a whole file as bytes ("" if unreadable)

}  // namespace moescope::test
