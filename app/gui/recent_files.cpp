// Recent files (see recent_files.h).
#include "app/gui/recent_files.h"

#include <QDir>

namespace moescope::gui {

QStringList push_recent(const QStringList& list, const QString& path, int max) {
  const QString clean = QDir::cleanPath(path);
  QStringList out{clean};
  for (const QString& p : list)
    if (QDir::cleanPath(p) != clean && out.size() < max) out << p;
  while (out.size() > max) out.removeLast();
  return out;
}

QStringList load_recent(QSettings& settings) {
  QStringList l = settings.value(QStringLiteral("recentFiles")).toStringList();
  while (l.size() > kMaxRecentFiles) l.removeLast();
  return l;
}

void save_recent(QSettings& settings, const QStringList& list) {
  settings.setValue(QStringLiteral("recentFiles"), list);
}

}  // namespace moescope::gui
