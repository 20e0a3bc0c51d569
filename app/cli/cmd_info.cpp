// `moescope info` (under construction).
#include "app/cli/cli.h"
#include "engine/util/error.h"

namespace moescope::cli {

int cmd_info(const Args&) { throw Error("'info' is not implemented in this build yet"); }

}  // namespace moescope::cli
