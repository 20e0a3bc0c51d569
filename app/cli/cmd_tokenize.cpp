// `moescope tokenize` (under construction).
#include "app/cli/cli.h"
#include "engine/util/error.h"

namespace moescope::cli {

int cmd_tokenize(const Args&) { throw Error("'tokenize' is not implemented in this build yet"); }

}  // namespace moescope::cli
