// The table of subcommands and where the embedded datasets live.
#include "app/cli/cli.h"

#include <filesystem>
#include <unistd.h>

namespace moescope::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"info", cmd_info, "JSON summary of a checkpoint directory or config.json"},
      {"tokenize", cmd_tokenize, "encode stdin text (or --decode ids) with a tokenizer.json"},
      {"generate", cmd_generate, "stream generated text for a prompt"},
      {"trace", cmd_trace, "run a prompt and record routing to an HDF5 trace"},
      {"compare", cmd_compare, "run routing strategies side by side and compare them"},
      {"bench", cmd_bench, "prefill/decode throughput, probe overhead and memory as JSON"},
      {"export", cmd_export, "export a trace as CSV tables"},
  };
  return table;
}

static std::filesystem::path executable_dir() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : p.parent_path();
}

std::string default_datasets_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("MOESCOPE_DATASETS"); env && *env) return env;
  const fs::path exe = executable_dir();
  for (const fs::path& candidate : {exe / "../share/moescope/datasets", fs::path(MOESCOPE_DEFAULT_DATASETS)}) {
    std::error_code ec;
    if (fs::is_directory(candidate / "moescope-demo-mixtral", ec)) return fs::weakly_canonical(candidate, ec).string();
  }
  return MOESCOPE_DEFAULT_DATASETS;
}

std::string default_demo_model() { return default_datasets_dir() + "/moescope-demo-mixtral"; }

}  // namespace moescope::cli
