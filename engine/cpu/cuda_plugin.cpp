#include "engine/cpu/cuda_plugin.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "engine/util/error.h"

namespace moescope {

namespace {

using CreateFn = Backend* (*)(std::shared_ptr<const Model>, int);
using VersionFn = const char* (*)();

// Where the plugin lives: $MOESCOPE_CUDA_PLUGIN, then beside the executable's build or install tree.
std::vector<std::filesystem::path> candidates() {
  namespace fs = std::filesystem;
  std::vector<fs::path> out;
  if (const char* env = std::getenv("MOESCOPE_CUDA_PLUGIN"); env && *env) out.emplace_back(env);
  std::error_code ec;
  const fs::path exe_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  if (!ec) {
    out.push_back(exe_dir / "../lib/moescope/libmoescope_cuda.so");  // installed: bin/ + lib/moescope/
    out.push_back(exe_dir / "../lib/libmoescope_cuda.so");           // build tree: app/, tests/ + lib/
    out.push_back(exe_dir / "libmoescope_cuda.so");
  }
  return out;
}

struct Plugin {
  CreateFn create = nullptr;
  std::string error;
};

const Plugin& plugin() {
  static Plugin p;
  static std::once_flag once;
  std::call_once(once, [] {
#ifndef MOESCOPE_CUDA_PLUGIN_BUILT
    p.error = "no CUDA device: this build has no CUDA backend (configure with -DMOESCOPE_CUDA=ON; use --backend cpu)";
    return;
#endif
    std::string tried;
    for (const auto& path : candidates()) {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) continue;
      void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
        // Typically the CUDA runtime or cuBLAS is not installed on this machine.
        p.error = std::string("no CUDA device: cannot load the CUDA backend: ") + dlerror();
        return;
      }
      auto version = reinterpret_cast<VersionFn>(dlsym(handle, "moescope_cuda_plugin_version"));
      p.create = reinterpret_cast<CreateFn>(dlsym(handle, "moescope_cuda_create_backend"));
      if (!version || !p.create || std::string(version()) != MOESCOPE_VERSION) {
        p.create = nullptr;
        p.error = "no CUDA device: " + path.string() + " is not a CUDA backend plugin of MoEScope " MOESCOPE_VERSION;
      }
      return;
    }
    p.error = "no CUDA device: the CUDA backend plugin (libmoescope_cuda.so) was not found (set MOESCOPE_CUDA_PLUGIN)";
  });
  return p;
}

}  // namespace

std::unique_ptr<Backend> load_cuda_backend(std::shared_ptr<const Model> model, int max_context) {
  const Plugin& p = plugin();
  if (!p.create) throw Error(p.error);
  return std::unique_ptr<Backend>(p.create(std::move(model), max_context));
}

}  // namespace moescope
