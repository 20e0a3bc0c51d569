// Paths to the test fixtures and a small reader for reference.safetensors files used by tests.
#pragma once
#include <string>

namespace moescope::test {

inline std::string fixtures_dir() { return MOESCOPE_FIXTURES_DIR; }
inline std::string model_fixture(const std::string& family) { return fixtures_dir() + "/models/" + family + "/model"; }
inline std::string model_reference(const std::string& family) { return fixtures_dir() + "/models/" + family + "/reference.safetensors"; }
inline std::string tokenizer_fixture(const std::string& name) { return fixtures_dir() + "/tokenizers/" + name; }
inline std::string demo_model() { return std::string(MOESCOPE_DATASETS_DIR) + "/moescope-demo-mixtral"; }
inline std::string demo_reference() { return fixtures_dir() + "/demo/reference.safetensors"; }
inline std::string moescope_binary() { return MOESCOPE_BINARY; }
// A fresh empty directory under the system temp dir, removed by the OS eventually.
std::string temp_dir(const std::string& tag);

}  // namespace moescope::test
