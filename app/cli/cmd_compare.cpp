// `moescope compare` (under construction).
#include "app/cli/cli.h"
#include "engine/util/error.h"

namespace moescope::cli {

int cmd_compare(const Args&) { throw Error("'compare' is not implemented in this build yet"); }

}  // namespace moescope::cli
