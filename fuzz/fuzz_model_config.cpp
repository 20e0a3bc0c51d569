// libFuzzer target: config.json parsing (every family's key mapping and validation). Must return a
// ModelConfig or throw moescope::Error. The parsed config is also given to the parameter counter, which
// multiplies its sizes (overflow there is a finding too).
#include <string>

#include "engine/model/model_config.h"
#include "engine/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    moescope::ModelConfig cfg = moescope::parse_model_config(text, "config.json");
    (void)cfg;
  } catch (const moescope::Error&) {
  }
  return 0;
}
