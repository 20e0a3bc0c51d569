// The one exception type the engine throws for bad input: the message names the file (or flag) and
// the problem, e.g. "model.safetensors: tensor 'lm_head.weight': shape [4,8] x F32 = 128 bytes, but
// data_offsets span 64". Callers (CLI, GUI) print what() as it is.
#pragma once
#include <stdexcept>
#include <string>

namespace moescope {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown when an operation was cancelled through a CancelToken.
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled") {}
};

}  // namespace moescope
