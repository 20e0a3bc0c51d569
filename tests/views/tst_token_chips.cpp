// TokenChips: the pure flow layout, chip hit-testing and click signal, chip colours.
#include <QSignalSpy>
#include <QtTest>

#include "views/palette.h"
#include "views/token_chips.h"

using namespace moescope;
using namespace moescope::views;

class TestTokenChips : public QObject {
  Q_OBJECT
 private slots:
  void flowLayoutWraps() {
    // Widths 30, 40, 50 in a 100-wide line with spacing 5: 30 + 5 + 40 = 75 fits, +5 +50 does not.
    const auto r = flow_layout({30, 40, 50, 120, 10}, 20, 100, 5);
    QCOMPARE(int(r.size()), 5);
    QCOMPARE(r[0], QRect(0, 0, 30, 20));
    QCOMPARE(r[1], QRect(35, 0, 40, 20));
    QCOMPARE(r[2], QRect(0, 25, 50, 20));
    QCOMPARE(r[3], QRect(0, 50, 120, 20));  // wider than the line: a line of its own
    QCOMPARE(r[4], QRect(0, 75, 10, 20));
    QVERIFY(flow_layout({}, 20, 100, 5).empty());
  }
  void clickAndColour() {
    auto r = std::make_shared<RunData>();
    r->family = "mixtral";
    r->num_experts = 4;
    r->k_max = 1;
    r->moe_layers = {0};
    for (int t = 0; t < 30; ++t) {
      r->token_ids.push_back(t);
      r->token_text.push_back(t % 2 ? " word" : "x");
      r->is_prompt.push_back(t < 10);
      r->router_logits.insert(r->router_logits.end(), {0.f, 0.f, 0.f, 0.f});
      r->experts.push_back(t % 4);
      r->weights.push_back(1.f);
      r->dropped.push_back(0);
    }
    TokenChips chips;
    chips.resize(400, 300);
    chips.setSnapshot(r);
    chips.show();
    QVERIFY(QTest::qWaitForWindowExposed(&chips));
    const auto rects = chips.chipRects();
    QCOMPARE(int(rects.size()), 30);
    for (const QRect& rc : rects) QVERIFY(rc.right() < 400);  // everything wraps inside the widget
    QVERIFY(rects.back().top() > rects.front().top());
    QSignalSpy spy(&chips, &TokenChips::tokenClicked);
    QTest::mouseClick(&chips, Qt::LeftButton, {}, rects[17].center());
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toInt(), 17);
    QCOMPARE(chips.tokenAt(QPoint(399, 299)), -1);
    // Chip 6 is filled with the palette colour of its top-1 expert (6 % 4 = 2); sample near its left edge.
    const QImage img = chips.grab().toImage();
    const QColor fill = img.pixelColor(rects[6].left() + 3, rects[6].center().y());
    QCOMPARE(fill, expert_colour(2));
    QDir().mkpath(QStringLiteral(MOESCOPE_SCREENSHOT_DIR));
    QVERIFY(img.save(QStringLiteral(MOESCOPE_SCREENSHOT_DIR "/test_token_chips.png")));
  }
};

QTEST_MAIN(TestTokenChips)
#include "tst_token_chips.moc"
