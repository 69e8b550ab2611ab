// Precision tuning: the cheapest per-layer converter precision (ADC bits, DAC bits, weight bits)
// that keeps a model's task metric within a loss budget of its base policy, priced by the cost
// model (engine/cost.h). Search on held-out training data and chips 0..chips-1 (common random
// numbers: every candidate sees the same chips and samples); acceptance by a one-sided upper
// confidence bound on the paired per-chip loss (apps/tune_stats.h). Steps:
//   1. sensitivity: each (layer, knob) lowered alone, one bit at a time, until its mean loss
//      exceeds the budget;
//   2. greedy allocation with verification: repeatedly the one-bit step with the largest objective
//      saving per unit of single-layer loss (steps without measured loss first) is applied and the
//      whole schedule measured; the step is kept when the loss bound stays within the budget, else
//      undone and that layer's knob frozen. The greedy starts from the cheapest uniform setting
//      within the budget (every layer the same bits) when there is one, else from the base.
// Then base, tuned and the cheapest passing uniform setting are re-measured on the test split and
// on `final_chips` chips never used in the search. Every evaluated candidate is logged (DIR/log.csv,
// one line per candidate and chip, flushed): a restarted run reuses the log and reaches the same
// schedule.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/enum_names.h"
#include "engine/policy.h"
#include "ml/calibration.h"
#include "ml/task.h"

namespace xbar {

// What the search minimises, per inference, from the cost model: inference energy (pJ), latency
// (ns, layers in sequence), ADC energy (pJ), or converter energy (ADC + DAC components, pJ).
enum class TuneObjective { energy, latency, adc_energy, converter_energy };
template <>
struct EnumNames<TuneObjective> {
  static constexpr EnumName<TuneObjective> table[] = {{TuneObjective::energy, "energy"},
                                                      {TuneObjective::latency, "latency"},
                                                      {TuneObjective::adc_energy, "adc_energy"},
                                                      {TuneObjective::converter_energy, "converter_energy"}};
};

// Config keys the tuner can change per layer. Bit widths (adc.bits, dac.bits, mapping.weight_bits)
// go one bit per step from the layer's base value down to min_bits (an ideal converter or float
// weights, value 0, stay). Slice widths (dac.slice_bits: input bits per array read,
// mapping.cell_bits: weight bits per cell) go up from a sliced base, through each width that needs
// fewer reads / cells, to 0 (one read / one cell per weight): fewer conversions, coarser levels.
const std::vector<std::string>& tune_knobs();
inline bool tune_knob_bits(const std::string& key) { return key != "dac.slice_bits" && key != "mapping.cell_bits"; }
// The values knob `key` takes for an operator whose base config is c, base value first.
std::vector<int> tune_knob_ladder(const std::string& key, const XbarConfig& c, int min_bits);

struct TuneSpec {
  std::string model, policy;  // float TorchScript model; base policy TOML ("" = every stage ideal)
  std::string hardware;       // hardware TOML of the cost model ("" = built-in default)
  Task task = Task::fashion_mnist;
  std::string data;           // image directory (task fashion_mnist; "" = default)
  std::vector<double> max_loss = {0.5};  // budgets in metric units; the first one writes policy.toml
  TuneObjective objective = TuneObjective::converter_energy;
  std::vector<std::string> knobs = {"adc.bits", "dac.bits"};
  int min_bits = 3;
  int chips = 4;                // search chips 0..chips-1
  int final_chips = 4;          // re-measurement chips chips..chips+final_chips-1
  int64_t samples = 1000;       // held-out validation samples of the search (0 = all)
  int64_t test_samples = 0;     // test samples of the re-measurement (0 = all)
  double confidence = 0.95;     // one-sided level of the loss bound: 0.90, 0.95 or 0.99
  bool compare_uniform = true;  // also search the uniform settings (every layer the same bits)
  CalibrationOptions calibration;
  std::string out;              // output directory
};

struct TuneOptions {
  bool progress = true;
  int64_t stop_after = 0;  // stop after this many new candidate evaluations (0: run to the end); tests
  int threads = 0;         // LibTorch + engine threads (0: leave the default)
};

// One tuned operator: layer name, class and phase, and per knob its base and chosen value.
struct TunedLayer {
  std::string name, op, phase;  // phase: "prefill" / "decode" for a model with phases, else ""
  std::vector<int> base, chosen;    // per spec knob
  std::vector<std::vector<double>> sensitivity;  // per knob: mean loss of this layer alone 1, 2, ... bits below base
  double objective_base = 0, objective_tuned = 0;
};

struct TuneSummary {
  bool finished = false;            // false: stopped by stop_after
  std::vector<TunedLayer> layers;   // for the first budget
  std::string schedule;             // the tuned candidate's text ("base" when nothing was lowered)
  std::vector<double> search_metric;  // the tuned schedule per search chip (validation split)
  std::vector<double> search_decode;  // the same, decode phase (a model with phases; else empty)
  std::vector<double> final_metric, final_decode;  // the tuned schedule per fresh chip (test split)
};

// Validates the spec (ConfigError naming the option), runs or resumes the search, writes
// DIR/policy.toml, DIR/report, DIR/pareto.csv and DIR/log.csv.
TuneSummary run_tune(const TuneSpec& s, const TuneOptions& o);

}  // namespace xbar
