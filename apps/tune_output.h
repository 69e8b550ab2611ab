// The precision tuner's intermediate results (apps/tune.h) and the files written from them:
// DIR/policy.toml, DIR/report and DIR/pareto.csv (tools/plot_tune.py draws DIR/pareto.png).
#pragma once
#include <array>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "apps/tune.h"
#include "apps/tune_stats.h"

namespace xbar {

// Cost fields per layer and for the model, in order: energy (pJ), latency (ns), ADC energy (pJ),
// converter energy (ADC + DAC, pJ); TuneObjective's order.
constexpr int kCostFields = 4;

struct TuneUnit {  // one tuned operator (and phase, for a model with a decode method)
  std::string name;
  OpClass op = OpClass::linear;
  std::optional<Phase> phase;  // empty: the model has one phase; the override then has no phase
  std::vector<int> base;       // per knob, the base policy's value for this operator
  // Per knob, the values tried, from the base (first) toward cheaper settings (tune_knob_ladder).
  std::vector<std::vector<int>> ladder;
  std::string label() const;   // "name", or "name (decode)"
};
using Schedule = std::vector<std::vector<int>>;  // [unit][knob] values

struct Measurement {
  std::string candidate;
  std::vector<double> metric;  // per chip (a model with phases: prefill)
  std::vector<double> decode;  // per chip, a model with phases: the decode phase's metric; else empty
  std::vector<double> costs;   // mean over chips: per unit kCostFields, then the model's
  double total(int f) const { return costs[costs.size() - kCostFields + size_t(f)]; }
  std::array<double, kCostFields> layer(size_t u) const {
    std::array<double, kCostFields> a{};
    for (int f = 0; f < kCostFields; ++f) a[size_t(f)] = costs[u * kCostFields + size_t(f)];
    return a;
  }
};

struct SensPoint {
  double loss_mean = 0, loss_upper = 0;
  std::array<double, kCostFields> layer_cost{};
};
using Sensitivity = std::map<std::tuple<size_t, size_t, int>, SensPoint>;  // (unit, knob, bits below base)

struct UniformPoint {
  std::vector<int> values;  // per knob (-1: knob not lowered anywhere)
  std::vector<int> cheapness;  // per knob, larger = cheaper, less precise value (dominance order)
  Schedule schedule;
  Measurement m;
  PairedLoss loss;
};
struct TunedPoint {
  double x = 0;
  Schedule schedule;
  Measurement m;
  PairedLoss loss;
  size_t accepted = 0, refused = 0;  // greedy steps kept / undone by their verification
  std::vector<int> warm_start;       // the uniform values the greedy started from (empty: the base)
};
struct FinalCheck {  // test split, chips never used in the search
  Measurement base, tuned, uniform;
  PairedLoss tuned_loss, uniform_loss;
  bool has_uniform = false;
  std::vector<int> uniform_values;
  int64_t search_windows = 0, test_windows = 0;  // decode windows per chip (a model with phases; else 0)
};

struct TuneOutputs {
  const TuneSpec& spec;
  const std::vector<TuneUnit>& units;
  const Measurement& base;
  const Sensitivity& sens;
  const std::vector<UniformPoint>& uniform;
  const std::vector<TunedPoint>& tuned;
  const FinalCheck& fin;
};

// The uniform point with the lowest objective among those that pass within x (null: none). A point
// passes when its loss bound is within x and so is the bound of every measured point at least as
// precise in every knob: more precision does not lose accuracy on average, so a point passing below
// a failing, more precise one passed by chance (among many uniform candidates some pass by chance).
const UniformPoint* cheapest_uniform(const std::vector<UniformPoint>& uniform, double x, int objective);

void write_tune_outputs(const TuneOutputs& o, const Policy& tuned_policy);
TuneSummary tune_summary(const TuneOutputs& o);

}  // namespace xbar
