// Headless subcommands of `moescope`. Each returns the process exit code; errors are printed as one
// line "moescope <cmd>: error: ..." on stderr with exit code 1 (2 for usage errors).
#pragma once
#include <string>
#include <vector>

namespace moescope::cli {

using Args = std::vector<std::string>;  // arguments after the subcommand name

int cmd_info(const Args& args);
int cmd_tokenize(const Args& args);
int cmd_generate(const Args& args);
int cmd_trace(const Args& args);
int cmd_compare(const Args& args);
int cmd_bench(const Args& args);
int cmd_export(const Args& args);

struct Command {
  const char* name;
  int (*run)(const Args&);
  const char* summary;
};
const std::vector<Command>& commands();

// Directory of the embedded demo checkpoint (installed copy first, then the source tree's datasets/).
std::string default_datasets_dir();
std::string default_demo_model();

}  // namespace moescope::cli
