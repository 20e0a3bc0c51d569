// `moescope trace` (under construction).
#include "app/cli/cli.h"
#include "engine/util/error.h"

namespace moescope::cli {

int cmd_trace(const Args&) { throw Error("'trace' is not implemented in this build yet"); }

}  // namespace moescope::cli
