// A loaded checkpoint: its config, the memory-mapped files and the bound weights.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/checkpoint/weight_residency.h"
#include "engine/model/model_config.h"
#include "engine/model/model_weights.h"

namespace moescope {

class WeightStore;  // engine/checkpoint/weight_store.h

// Run: weights ready for a backend. Inspect: every tensor is checked (names, shapes, dtypes) and counted,
// but nothing is rewritten: GPT-OSS experts, which a Run load converts (engine/model/families/gpt_oss.cpp),
// stay unbound, so such a Model can be described (`moescope info`) but not run (backends refuse it).
enum class LoadMode { Run, Inspect };

struct LoadProgress {
  // Called with a fraction in [0,1] and a short message; return false to cancel (throws Cancelled).
  virtual bool report(double fraction, const std::string& what) { return true; }
  virtual ~LoadProgress() = default;
};

class Model {
 public:
  // Load config.json + safetensors (single file or sharded index) from a checkpoint directory (a path to
  // its config.json also works). Throws Error naming the file and tensor on any problem (see
  // families/family.h for unexpected tensors), Cancelled when `progress` returns false.
  // `residency`: mapped files or weights read into huge-page memory (engine/checkpoint/weight_residency.h);
  // Auto picks resident when the checkpoint takes at most half of the available memory.
  // A checkpoint already loaded in this process with the same `residency` and unchanged files (names,
  // sizes, mtimes of config.json and *.safetensors*) is returned as is: sessions share one copy.
  static std::shared_ptr<const Model> load(const std::string& dir, LoadProgress* progress = nullptr,
                                           WeightResidency residency = WeightResidency::Auto,
                                           LoadMode mode = LoadMode::Run);

  const ModelConfig& config() const { return m_config; }
  const ModelWeights& weights() const { return m_weights; }
  const std::string& directory() const { return m_dir; }
  const WeightStore& store() const { return *m_store; }
  std::vector<std::string> dtypes() const;  // distinct dtypes of the bound weights

  Model(ModelConfig config, std::shared_ptr<WeightStore> store, ModelWeights weights, std::string dir);

 private:
  ModelConfig m_config;
  std::shared_ptr<WeightStore> m_store;  // keeps the mappings alive for m_weights
  ModelWeights m_weights;
  std::string m_dir;
};

// Parameter counts from the architecture alone (for `moescope info` on a bare config.json).
struct ParamCounts {
  double total = 0;                // every parameter
  double active = 0;               // per token: everything except unselected routed experts
  double active_without_embedding = 0;  // same, not counting the input embedding table
  double embedding = 0;
};
ParamCounts count_parameters(const ModelConfig& cfg);
// Parameters actually bound in `w` (each stored element once: tied lm_head and fused-expert views are
// not double counted). For a loaded model this must equal count_parameters(cfg).total.
int64_t count_weight_parameters(const ModelWeights& w);
// Every bound tensor of `w` (invalid ones included; a tied lm_head twice), as backends read them.
void for_each_weight(const ModelWeights& w, const std::function<void(const TensorRef&)>& f);

}  // namespace moescope
