// Prompt suites (.jsonl parsing, the shipped datasets/prompts) and the recent-files list logic.
#include <QTemporaryDir>
#include <QtTest>

#include "app/gui/prompt_suites.h"
#include "app/gui/recent_files.h"

using namespace moescope::gui;

class TestPromptSuites : public QObject {
  Q_OBJECT
 private slots:
  void parsesLinesAndReportsBadOnes() {
    QTemporaryDir tmp;
    const QString path = tmp.filePath(QStringLiteral("mine.jsonl"));
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("{\"domain\": \"math\", \"text\": \"1 + 1 =\"}\n"
            "\n"
            "{\"text\": \"caf\\u00e9\\nline two\"}\n"
            "not json\n"
            "{\"label\": \"x\", \"text\": 5}\n"
            "{\"label\": \"lab\", \"text\": \"t\"}\n");
    f.close();
    QString error;
    const auto entries = load_prompt_suite(path, &error);
    QCOMPARE(entries.size(), 3);
    QCOMPARE(entries[0].label, QStringLiteral("math"));
    QCOMPARE(entries[0].text, QStringLiteral("1 + 1 ="));
    QCOMPARE(entries[0].suite, QStringLiteral("mine"));
    QCOMPARE(entries[1].text, QString::fromUtf8("caf\xc3\xa9\nline two"));
    QCOMPARE(entries[1].label, QString());
    QCOMPARE(entries[2].label, QStringLiteral("lab"));
    QVERIFY2(error.startsWith(path + QStringLiteral(":4:")), qPrintable(error));  // first bad line
    QString missing;
    QVERIFY(load_prompt_suite(tmp.filePath(QStringLiteral("nope.jsonl")), &missing).isEmpty());
    QVERIFY(missing.contains(QStringLiteral("nope.jsonl")));
  }
  void shippedSuites() {
    // Count the lines of the shipped suites independently and compare.
    const QString dir = QStringLiteral(MOESCOPE_DATASETS_DIR "/prompts");
    int lines = 0;
    for (const QString& name : QDir(dir).entryList({QStringLiteral("*.jsonl")}, QDir::Files)) {
      QFile f(QDir(dir).filePath(name));
      QVERIFY(f.open(QIODevice::ReadOnly));
      for (const QByteArray& l : f.readAll().split('\n'))
        if (!l.trimmed().isEmpty()) ++lines;
    }
    const auto entries = load_prompt_suites(dir);
    QVERIFY(lines > 0);
    QCOMPARE(int(entries.size()), lines);
    for (const auto& e : entries) {
      QVERIFY(!e.text.isEmpty());
      QVERIFY(!e.label.isEmpty());  // every demo prompt names its domain
    }
  }
  void recentList() {
    QStringList l;
    l = push_recent(l, QStringLiteral("/a"));
    l = push_recent(l, QStringLiteral("/b"));
    QCOMPARE(l, (QStringList{QStringLiteral("/b"), QStringLiteral("/a")}));
    l = push_recent(l, QStringLiteral("/a/"));  // same path, cleaned: moves to the front
    QCOMPARE(l, (QStringList{QStringLiteral("/a"), QStringLiteral("/b")}));
    for (int i = 0; i < 20; ++i) l = push_recent(l, QStringLiteral("/p%1").arg(i));
    QCOMPARE(l.size(), kMaxRecentFiles);
    QCOMPARE(l.first(), QStringLiteral("/p19"));
    QCOMPARE(l.last(), QStringLiteral("/p10"));
    QTemporaryDir tmp;
    QSettings s(tmp.filePath(QStringLiteral("s.ini")), QSettings::IniFormat);
    save_recent(s, l);
    QCOMPARE(load_recent(s), l);
  }
};

QTEST_GUILESS_MAIN(TestPromptSuites)
#include "tst_prompt_suites.moc"
