// libFuzzer target: one .safetensors file (8-byte header length, JSON header, data section). Every
// input must either open (then every tensor view lies inside the mapping: its first and last bytes are
// read so ASan sees any overrun) or throw moescope::Error; anything else is a finding. The file is opened
// both ways the engine holds weights: mapped, and read into memory (resident).
#include "engine/checkpoint/safetensors_file.h"
#include "engine/util/error.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = moescope::fuzz::write_file("model.safetensors", data, size);
  for (bool resident : {false, true}) try {
    moescope::SafetensorsFile file(path, resident);
    volatile unsigned sum = 0;
    for (const auto& e : file.entries()) {
      moescope::TensorRef t = file.tensor(e);
      const auto* bytes = reinterpret_cast<const unsigned char*>(t.data);
      if (t.nbytes > 0) sum += bytes[0] + bytes[t.nbytes - 1];
      sum += static_cast<unsigned>(t.numel());  // shapes were checked: no overflow here
    }
    for (const auto& [k, v] : file.metadata()) sum += static_cast<unsigned>(k.size() + v.size());
    (void)file.find("lm_head.weight");
  } catch (const moescope::Error&) {
  }
  return 0;
}
