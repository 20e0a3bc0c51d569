// `moescope bench` (under construction).
#include "app/cli/cli.h"
#include "engine/util/error.h"

namespace moescope::cli {

int cmd_bench(const Args&) { throw Error("'bench' is not implemented in this build yet"); }

}  // namespace moescope::cli
