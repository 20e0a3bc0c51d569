#include "tests/support/fixtures.h"

#include <filesystem>
#include <random>
#include <unistd.h>

namespace moescope::test {

std::string temp_dir(const std::string& tag) {
  namespace fs = std::filesystem;
  std::random_device rd;
  fs::path p = fs::temp_directory_path() /
               ("moescope-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(p);
  return p.string();
}

}  // namespace moescope::test
