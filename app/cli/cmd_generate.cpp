// `moescope generate` (under construction).
#include "app/cli/cli.h"
#include "engine/util/error.h"

namespace moescope::cli {

int cmd_generate(const Args&) { throw Error("'generate' is not implemented in this build yet"); }

}  // namespace moescope::cli
