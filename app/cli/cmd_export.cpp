// `moescope export` (under construction).
#include "app/cli/cli.h"
#include "engine/util/error.h"

namespace moescope::cli {

int cmd_export(const Args&) { throw Error("'export' is not implemented in this build yet"); }

}  // namespace moescope::cli
