// Prompt suite loading (see prompt_suites.h).
#include "app/gui/prompt_suites.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>

namespace moescope::gui {

QVector<PromptEntry> load_prompt_suite(const QString& path, QString* error) {
  QVector<PromptEntry> out;
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) {
    if (error) *error = QStringLiteral("%1: cannot open (%2)").arg(path, f.errorString());
    return out;
  }
  const QString suite = QFileInfo(path).completeBaseName();
  int line_no = 0;
  while (!f.atEnd()) {
    const QByteArray line = f.readLine().trimmed();
    ++line_no;
    if (line.isEmpty()) continue;
    QJsonParseError perr;
    const QJsonDocument doc = QJsonDocument::fromJson(line, &perr);
    const QJsonObject o = doc.object();
    if (perr.error != QJsonParseError::NoError || !doc.isObject() || !o.value(QLatin1String("text")).isString()) {
      if (error && error->isEmpty())
        *error = QStringLiteral("%1:%2: %3").arg(path).arg(line_no).arg(
            perr.error != QJsonParseError::NoError ? perr.errorString() : QStringLiteral("expected an object with a string \"text\""));
      continue;
    }
    PromptEntry e;
    e.suite = suite;
    e.text = o.value(QLatin1String("text")).toString();
    e.label = o.value(QLatin1String("domain")).toString(o.value(QLatin1String("label")).toString());
    out.push_back(e);
  }
  return out;
}

QVector<PromptEntry> load_prompt_suites(const QString& dir) {
  QVector<PromptEntry> out;
  const QStringList files = QDir(dir).entryList({QStringLiteral("*.jsonl")}, QDir::Files, QDir::Name);
  for (const QString& f : files) out += load_prompt_suite(QDir(dir).filePath(f));
  return out;
}

}  // namespace moescope::gui
