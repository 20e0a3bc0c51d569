// Plain values the session worker hands to the GUI thread through queued signals.
#pragma once
#include <QMetaType>
#include <QString>

#include "probes/run_data.h"

namespace moescope::gui {

// What the window shows about an opened checkpoint (or a trace file).
struct ModelSummary {
  QString path;          // checkpoint directory or .h5 file
  QString name;          // directory / file name
  QString family;        // "mixtral", ...
  int layers = 0;        // decoder layers
  int moe_layers = 0;
  int experts = 0;
  int k = 0;             // experts per token
  int vocab = 0;
  int max_context = 0;
  QString weights;       // dtypes of the weights as held in memory, e.g. "BF16" or "FP8 E4M3 + BF16"
  bool is_trace = false; // a saved trace: no model, nothing to step
};

// Sampling controls of the prompt panel.
struct SamplingChoice {
  bool greedy = true;
  double temperature = 1.0;
  double top_p = 1.0;
  quint64 seed = 0;
  int max_new_tokens = 32;
};

}  // namespace moescope::gui

Q_DECLARE_METATYPE(moescope::gui::ModelSummary)
Q_DECLARE_METATYPE(moescope::gui::SamplingChoice)
Q_DECLARE_METATYPE(moescope::RunSnapshot)
