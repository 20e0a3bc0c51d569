// Shared helpers of the libFuzzer targets: the loaders under test take paths, so each input is written
// to a file in a per-process scratch directory (on /dev/shm when it exists, to keep the disk out of it).
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace moescope::fuzz {

// A scratch directory made once per process; files in it are overwritten by every input.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string tmpl = std::string(base) + "/moescope-fuzz-XXXXXX";
    if (!mkdtemp(tmpl.data())) { std::perror("mkdtemp"); std::abort(); }
    return tmpl;
  }();
  return dir;
}

inline std::string write_file(const std::string& name, const uint8_t* data, size_t size) {
  std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) { std::perror(path.c_str()); std::abort(); }
  return path;
}

}  // namespace moescope::fuzz
