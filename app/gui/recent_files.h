// Recent files list (checkpoint directories and traces), most recent first, persisted in QSettings
// under "recentFiles". The list logic is a pure function so it is tested without settings.
#pragma once
#include <QSettings>
#include <QStringList>

namespace moescope::gui {

constexpr int kMaxRecentFiles = 10;

// `path` moved (or added) to the front; duplicates (same cleaned path) removed; at most `max` kept.
QStringList push_recent(const QStringList& list, const QString& path, int max = kMaxRecentFiles);

QStringList load_recent(QSettings& settings);
void save_recent(QSettings& settings, const QStringList& list);

}  // namespace moescope::gui
