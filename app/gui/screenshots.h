// Screenshot mode (`moescope --screenshots DIR [--model PATH]`, used by scripts/screenshots.sh):
// opens a checkpoint, runs a demo prompt, selects a token and saves every view as a PNG, so the
// pictures in docs/screenshots always come from the real app on real data.
#pragma once
#include <QString>
#include <functional>

namespace moescope::gui {

class MainWindow;

// Processes events until `done` returns true or `timeout_ms` passes; returns done().
bool wait_until(const std::function<bool()>& done, int timeout_ms);

// Returns 0 on success; prints what went wrong to stderr otherwise.
int take_screenshots(MainWindow& window, const QString& out_dir, const QString& model_path);

}  // namespace moescope::gui
