// libFuzzer target: model.safetensors.index.json of a sharded checkpoint. The input is the index text;
// the scratch directory also holds one small valid shard ("model-00001-of-00001.safetensors", written
// once) so that indexes naming it get past the shard check. Must open or throw moescope::Error.
#include <cstring>

#include "engine/checkpoint/weight_store.h"
#include "engine/util/error.h"
#include "fuzz/fuzz_support.h"

namespace {
// A valid shard with two F32 tensors: "a" [2] and "b" [1,1].
void write_shard() {
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}})";
  std::string bytes(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  bytes += header;
  bytes += std::string(12, '\0');
  moescope::fuzz::write_file("model-00001-of-00001.safetensors", reinterpret_cast<const uint8_t*>(bytes.data()),
                             bytes.size());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool once = (write_shard(), true);
  (void)once;
  moescope::fuzz::write_file("model.safetensors.index.json", data, size);
  try {
    auto store = moescope::WeightStore::open_dir(moescope::fuzz::scratch_dir());
    for (const auto& name : store->names()) {
      moescope::TensorRef t = store->get(name);
      volatile unsigned char c = t.nbytes ? static_cast<unsigned char>(t.data[t.nbytes - 1]) : 0;
      (void)c;
    }
  } catch (const moescope::Error&) {
  }
  return 0;
}
