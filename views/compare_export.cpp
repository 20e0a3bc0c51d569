// Compare trace export (see compare_export.h).
#include "views/compare_export.h"

#include "probes/comparison/comparison_h5.h"
#include "probes/trace/trace_file.h"

namespace moescope::views {

void export_comparison(const std::string& path, const std::vector<RunSnapshot>& runs, const ComparisonResult& result) {
  auto file = TraceFile::create(path);
  for (const auto& r : runs)
    if (r) file->write_run(*r);
  {
    h5::Id g = file->group("comparison");
    write_comparison(g, result);
  }
  file->close();
}

}  // namespace moescope::views
