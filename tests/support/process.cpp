#include "tests/support/process.h"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/support/fixtures.h"

namespace moescope::test {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ProcResult run_moescope(const std::string& args, const std::string& stdin_bytes) {
  const std::string dir = temp_dir("cli");
  const std::string in = dir + "/in", out = dir + "/out", err = dir + "/err";
  std::ofstream(in, std::ios::binary) << stdin_bytes;
  const std::string cmd =
      "'" + moescope_binary() + "' " + args + " < '" + in + "' > '" + out + "' 2> '" + err + "'";
  const int status = std::system(cmd.c_str());
  ProcResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

}  // namespace moescope::test
