// Prompt suites: every datasets/prompts/*.jsonl file, one JSON object per line with "text" and an
// optional "domain" (or "label"). Shown in the prompt panel's list.
#pragma once
#include <QString>
#include <QVector>

namespace moescope::gui {

struct PromptEntry {
  QString suite;   // file name without extension
  QString label;   // "domain" / "label" field, may be empty
  QString text;
};

// Entries of one .jsonl file; lines that are blank or not objects with a string "text" are skipped.
// `error` (optional) receives "<file>:<line>: <problem>" for the first bad line.
QVector<PromptEntry> load_prompt_suite(const QString& path, QString* error = nullptr);
// Every *.jsonl under `dir`, in file name order.
QVector<PromptEntry> load_prompt_suites(const QString& dir);

}  // namespace moescope::gui
