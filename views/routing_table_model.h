// Item model behind the routing heatmaps. Rows are tokens; columns are either the experts of one
// MoE layer (value: router probability) or the MoE layers (value: top-1 expert). The heatmap widget
// paints from this model, and tooltips read its roles, so what is shown is what is tested.
#pragma once
#include <QAbstractTableModel>
#include <vector>

#include "probes/run_data.h"

namespace moescope::views {

class RoutingTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum class Mode { Experts, Layers };
  enum Role {
    ValueRole = Qt::UserRole + 1,  // double probability (Experts) / int top-1 expert, -1 = none (Layers)
    ChosenRole,                    // bool: expert selected for the token (Experts mode)
    WeightRole,                    // double: weight of the selected expert, 0 when not selected
    DroppedRole,                   // bool: capacity dropped the token at this layer
    RankRole,                      // int: rank of the expert in the router's selection, -1 when not chosen
    IsPromptRole,                  // bool: token belongs to the prompt
  };

  explicit RoutingTableModel(QObject* parent = nullptr);

  void setSnapshot(RunSnapshot run);
  RunSnapshot snapshot() const { return m_run; }
  void setMode(Mode mode);
  Mode mode() const { return m_mode; }
  void setLayer(int moe_layer);  // MoE layer index used in Experts mode
  int layer() const { return m_layer; }
  // Experts mode: top of the colour scale for the shown layer (colour_scale_max of its maximum).
  double colourScaleMax() const { return m_scale_max; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

  // Readable token label: whitespace made visible (␣, ↵, ⇥) so blank tokens still show.
  static QString tokenLabel(const std::string& piece);

 private:
  void recompute();
  RunSnapshot m_run;
  Mode m_mode = Mode::Experts;
  int m_layer = 0;
  std::vector<float> m_probs;  // [N, E] of m_layer
  double m_scale_max = 1.0;
};

}  // namespace moescope::views
