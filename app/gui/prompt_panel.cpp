// PromptPanel (see prompt_panel.h).
#include "app/gui/prompt_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QSpinBox>
#include <QVBoxLayout>

namespace moescope::gui {

QStringList PromptPanel::strategyPresets() {
  return {QStringLiteral("native"),           QStringLiteral("topk:1"),     QStringLiteral("topk:4"),
          QStringLiteral("topp:0.7"),         QStringLiteral("capacity:1.0"), QStringLiteral("capacity:1.25:end"),
          QStringLiteral("expert-choice:1.0"), QStringLiteral("random:1"),   QStringLiteral("hash"),
          QStringLiteral("mask:2.5"),         QStringLiteral("no-shared"),  QStringLiteral("topk:1+mask:3.5")};
}

PromptPanel::PromptPanel(QWidget* parent) : QWidget(parent) {
  m_text = new QPlainTextEdit;
  m_text->setObjectName(QStringLiteral("promptEdit"));
  m_text->setPlaceholderText(tr("Type a prompt, or pick one below"));
  m_text->setTabChangesFocus(true);

  m_suites = new QListWidget;
  m_suites->setObjectName(QStringLiteral("promptSuiteList"));
  m_suites->setWordWrap(false);
  m_suites->setToolTip(tr("Prompts from datasets/prompts/*.jsonl; click one to copy it into the editor"));
  connect(m_suites, &QListWidget::currentRowChanged, this, [this](int row) {
    if (row >= 0 && row < m_entries.size()) m_text->setPlainText(m_entries[row].text);
  });

  m_strategy = new QComboBox;
  m_strategy->setObjectName(QStringLiteral("strategyCombo"));
  m_strategy->setEditable(true);
  m_strategy->addItems(strategyPresets());
  m_strategy->setInsertPolicy(QComboBox::NoInsert);
  m_strategy->setToolTip(tr("Routing strategy spec: native, topk:K, topp:P, capacity:CF[:end], expert-choice:CF, "
                            "random:SEED, hash, mask:LAYER.EXPERT, no-shared; compose with '+'"));
  connect(m_strategy, &QComboBox::activated, this, [this](int) { emit strategyActivated(strategy()); });
  connect(m_strategy->lineEdit(), &QLineEdit::returnPressed, this, [this] { emit strategyActivated(strategy()); });
  m_strategy_error = new QLabel;
  m_strategy_error->setWordWrap(true);
  m_strategy_error->setStyleSheet(QStringLiteral("color: #b00020;"));
  m_strategy_error->hide();

  m_greedy = new QCheckBox(tr("Greedy (argmax)"));
  m_greedy->setChecked(true);
  m_temperature = new QDoubleSpinBox;
  m_temperature->setRange(0.05, 5.0);
  m_temperature->setSingleStep(0.1);
  m_temperature->setValue(1.0);
  m_top_p = new QDoubleSpinBox;
  m_top_p->setRange(0.01, 1.0);
  m_top_p->setSingleStep(0.05);
  m_top_p->setValue(1.0);
  m_seed = new QSpinBox;
  m_seed->setRange(0, 1 << 30);
  m_max_tokens = new QSpinBox;
  m_max_tokens->setObjectName(QStringLiteral("maxTokensSpin"));
  m_max_tokens->setRange(1, 4096);
  m_max_tokens->setValue(32);
  auto update_enabled = [this] {
    m_temperature->setEnabled(!m_greedy->isChecked());
    m_top_p->setEnabled(!m_greedy->isChecked());
    m_seed->setEnabled(!m_greedy->isChecked());
  };
  update_enabled();
  connect(m_greedy, &QCheckBox::toggled, this, [this, update_enabled] {
    update_enabled();
    emitSampling();
  });
  connect(m_temperature, &QDoubleSpinBox::valueChanged, this, &PromptPanel::emitSampling);
  connect(m_top_p, &QDoubleSpinBox::valueChanged, this, &PromptPanel::emitSampling);
  connect(m_seed, &QSpinBox::valueChanged, this, &PromptPanel::emitSampling);
  connect(m_max_tokens, &QSpinBox::valueChanged, this, &PromptPanel::emitSampling);

  auto* sampling_box = new QGroupBox(tr("Sampling"));
  auto* form = new QFormLayout(sampling_box);
  form->addRow(m_greedy);
  form->addRow(tr("Temperature"), m_temperature);
  form->addRow(tr("Top-p"), m_top_p);
  form->addRow(tr("Seed"), m_seed);
  form->addRow(tr("Max new tokens"), m_max_tokens);

  auto* routing_box = new QGroupBox(tr("Routing strategy"));
  auto* rl = new QVBoxLayout(routing_box);
  rl->addWidget(m_strategy);
  rl->addWidget(m_strategy_error);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(new QLabel(tr("<b>Prompt</b>")));
  layout->addWidget(m_text, 2);
  layout->addWidget(new QLabel(tr("Prompt suites")));
  layout->addWidget(m_suites, 2);
  layout->addWidget(routing_box);
  layout->addWidget(sampling_box);
}

QString PromptPanel::promptText() const { return m_text->toPlainText(); }
void PromptPanel::setPromptText(const QString& text) { m_text->setPlainText(text); }

SamplingChoice PromptPanel::sampling() const {
  SamplingChoice s;
  s.greedy = m_greedy->isChecked();
  s.temperature = m_temperature->value();
  s.top_p = m_top_p->value();
  s.seed = quint64(m_seed->value());
  s.max_new_tokens = m_max_tokens->value();
  return s;
}

void PromptPanel::setSampling(const SamplingChoice& s) {
  m_greedy->setChecked(s.greedy);
  m_temperature->setValue(s.temperature);
  m_top_p->setValue(s.top_p);
  m_seed->setValue(int(s.seed));
  m_max_tokens->setValue(s.max_new_tokens);
}

void PromptPanel::emitSampling() { emit samplingChanged(sampling()); }

QString PromptPanel::strategy() const { return m_strategy->currentText().trimmed(); }

void PromptPanel::setStrategy(const QString& spec) {
  QSignalBlocker block(m_strategy);
  m_strategy->setCurrentText(spec);
  setStrategyError(QString());
}

void PromptPanel::setStrategyError(const QString& message) {
  m_strategy_error->setText(message);
  m_strategy_error->setVisible(!message.isEmpty());
}

void PromptPanel::setSuites(const QVector<PromptEntry>& entries) {
  m_entries = entries;
  QSignalBlocker block(m_suites);
  m_suites->clear();
  for (const PromptEntry& e : entries) {
    QString first = e.text.simplified();
    if (first.size() > 60) first = first.left(57) + QStringLiteral("...");
    auto* item = new QListWidgetItem(e.label.isEmpty() ? first : QStringLiteral("[%1] %2").arg(e.label, first));
    item->setToolTip(QStringLiteral("%1 (%2)\n\n%3").arg(e.suite, e.label, e.text.left(600)));
    m_suites->addItem(item);
  }
}

int PromptPanel::suiteCount() const { return m_suites->count(); }

void PromptPanel::selectSuiteEntry(int row) { m_suites->setCurrentRow(row); }

}  // namespace moescope::gui
