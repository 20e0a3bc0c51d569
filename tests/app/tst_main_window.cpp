// MainWindow with the demo checkpoint, offscreen: keyboard shortcuts drive the session, views follow
// the snapshots, errors show in a (non-blocking) dialog, drag and drop opens a trace, layout and
// recent files persist through QSettings, and every view renders to a PNG (screenshot mode).
#include <QAction>
#include <QDockWidget>
#include <QMimeData>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QtTest>

#include "app/gui/main_window.h"
#include "app/gui/prompt_panel.h"
#include "app/gui/screenshots.h"
#include "app/gui/session_controller.h"
#include "views/routing_heatmap.h"
#include "views/routing_table_model.h"
#include "views/token_chips.h"
#include "views/token_details_view.h"
#include "views/token_details_model.h"

using namespace moescope;
using namespace moescope::gui;

namespace {
const QString kDemo = QStringLiteral(MOESCOPE_DATASETS_DIR "/moescope-demo-mixtral");

bool wait_ready(MainWindow& w, int ms = 60000) {
  return wait_until([&] { return w.controller()->state() == SessionController::State::Ready; }, ms);
}
bool press(MainWindow& w, int key, Qt::KeyboardModifiers mod = {}) {
  QSignalSpy seq(w.controller(), &SessionController::sequenceChanged);
  QTest::keyClick(&w, Qt::Key(key), mod);
  return wait_until([&] { return seq.count() > 0 && w.controller()->state() == SessionController::State::Ready; }, 60000);
}
}  // namespace

class TestMainWindow : public QObject {
  Q_OBJECT
  QTemporaryDir m_settings_dir;

 private slots:
  void initTestCase() {
    // Settings go to a private directory, not the user's.
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_settings_dir.path());
    QCoreApplication::setOrganizationName(QStringLiteral("MoEScopeTest"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_main_window"));
  }

  void shortcutsDriveTheSession() {
    MainWindow w;
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.promptPanel()->setPromptText(QStringLiteral("int main() { return 0; }"));
    QVERIFY(!w.action(QStringLiteral("actionStep"))->isEnabled());  // no model yet
    w.open(kDemo);
    QVERIFY(wait_ready(w));
    QVERIFY(w.action(QStringLiteral("actionStep"))->isEnabled());
    QVERIFY(w.recentFiles().contains(QDir::cleanPath(kDemo)));
    QVERIFY(press(w, Qt::Key_F10));  // set prompt + prefill
    wait_until([&] { return w.controller()->snapshot() && w.controller()->snapshot()->num_tokens() > 0; }, 10000);
    const int prompt_len = w.controller()->snapshot()->num_tokens();
    QVERIFY(prompt_len > 0);
    QVERIFY(press(w, Qt::Key_F10));
    QVERIFY(press(w, Qt::Key_F10));
    w.controller()->pollNow();
    QCOMPARE(w.controller()->snapshot()->num_tokens(), prompt_len + 2);
    QCOMPARE(w.expertHeatmap()->model()->rowCount(), prompt_len + 2);  // views follow the snapshot
    QCOMPARE(int(w.tokenChips()->chipRects().size()), prompt_len + 2);
    QVERIFY(press(w, Qt::Key_F10, Qt::ShiftModifier));  // step back
    QCOMPARE(w.controller()->snapshot()->num_tokens(), prompt_len + 1);
    w.findChild<QSpinBox*>(QStringLiteral("runNSpin"))->setValue(3);
    QVERIFY(press(w, Qt::Key_F6));  // run N
    QCOMPARE(w.controller()->snapshot()->num_tokens(), prompt_len + 4);
    // Layer selector reaches the heatmap model; a token click reaches the details.
    w.setLayer(3);
    QCOMPARE(w.expertHeatmap()->model()->layer(), 3);
    w.selectToken(2);
    QCOMPARE(w.tokenDetails()->token(), 2);
    QCOMPARE(w.tokenDetails()->model()->rowCount(), 6);
    QVERIFY(w.action(QStringLiteral("actionExport"))->isEnabled());
  }

  void loadErrorShowsADialog() {
    MainWindow w;
    w.show();
    w.open(QStringLiteral("/nonexistent/checkpoint"));
    QVERIFY(wait_until([&] { return w.lastErrorBox() != nullptr; }, 30000));
    QVERIFY(w.lastErrorBox()->isVisible());
    QVERIFY2(w.lastErrorBox()->text().contains(QStringLiteral("/nonexistent/checkpoint")), qPrintable(w.lastErrorBox()->text()));
    w.lastErrorBox()->close();
  }

  void dropOpensATraceAndLayoutPersists() {
    QTemporaryDir tmp;
    const QString trace = tmp.filePath(QStringLiteral("t.h5"));
    {
      MainWindow w;
      w.show();
      w.promptPanel()->setPromptText(QStringLiteral("hello world"));
      w.open(kDemo);
      QVERIFY(wait_ready(w));
      QVERIFY(press(w, Qt::Key_F10));
      QSignalSpy exported(w.controller(), &SessionController::exportFinished);
      w.controller()->exportTrace(trace);
      QVERIFY(wait_until([&] { return exported.count() > 0; }, 30000));
      QCOMPARE(exported.at(0).at(1).toString(), QString());
      // Drop the trace on the window.
      QMimeData mime;
      mime.setUrls({QUrl::fromLocalFile(trace)});
      QDragEnterEvent enter(QPoint(50, 50), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
      QCoreApplication::sendEvent(&w, &enter);
      QVERIFY(enter.isAccepted());
      QDropEvent drop(QPointF(50, 50), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
      QCoreApplication::sendEvent(&w, &drop);
      QVERIFY(wait_until([&] { return w.controller()->state() == SessionController::State::Trace; }, 30000));
      QVERIFY(w.controller()->snapshot()->num_tokens() > 0);
      QVERIFY(!w.action(QStringLiteral("actionStep"))->isEnabled());  // a trace cannot be stepped
      QVERIFY(w.recentFiles().first() == QDir::cleanPath(trace));
      // Hide a dock; closing saves the layout.
      w.findChild<QDockWidget*>(QStringLiteral("loadDock"))->hide();
      w.close();
    }
    MainWindow again;
    again.show();
    QVERIFY(QTest::qWaitForWindowExposed(&again));
    QVERIFY(!again.findChild<QDockWidget*>(QStringLiteral("loadDock"))->isVisible());
    QVERIFY(again.findChild<QDockWidget*>(QStringLiteral("detailsDock"))->isVisible());
    QCOMPARE(again.recentFiles().first(), QDir::cleanPath(trace));
    again.findChild<QDockWidget*>(QStringLiteral("loadDock"))->show();
    again.close();
  }

  void screenshotsOfEveryView() {
    MainWindow w;
    w.loadPromptSuites(QStringLiteral(MOESCOPE_DATASETS_DIR));
    QVERIFY(w.promptPanel()->suiteCount() > 0);
    const QString dir = QStringLiteral(MOESCOPE_SCREENSHOT_DIR);
    QCOMPARE(take_screenshots(w, dir, kDemo), 0);
    for (const char* name : {"main_window.png", "heatmap_experts.png", "heatmap_layers.png", "token_chips.png",
                             "token_details.png", "expert_load.png", "prompt_panel.png", "heatmap_capacity.png"}) {
      const QImage img(QDir(dir).filePath(QLatin1String(name)));
      QVERIFY2(!img.isNull() && img.width() > 200 && img.height() > 100, name);
    }
    // The capacity screenshot's run really dropped tokens (what the picture is meant to show).
    const RunSnapshot s = w.controller()->snapshot();
    QVERIFY(std::any_of(s->dropped.begin(), s->dropped.end(), [](uint8_t d) { return d != 0; }));
  }
};

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
