// Cost of a converted model's inferences: each layer's counted events (layer_state.h) priced by
// the cost model (engine/cost.h), per inference, as rows of a table.
#pragma once
#include <torch/script.h>

#include <string>
#include <vector>

#include "engine/cost.h"

namespace xbar {

// Counters of every xbar layer of m, in xbar_layers order.
std::vector<LayerCounters> model_counters(const torch::jit::Module& m);

struct LayerCostRow {
  std::string name;
  LayerCost cost;  // per inference
};

// Cost per inference of what m's layers counted since `before` (model_counters of the same
// programmed model; empty: since programming), over `inferences` inferences.
std::vector<LayerCostRow> model_cost_rows(const torch::jit::Module& m, const Hardware& hw,
                                          const std::vector<LayerCounters>& before, double inferences);
ModelCost model_cost(const std::vector<LayerCostRow>& rows);

// One layer's cost as named numbers (Python, HDF5): energy_<component>_pJ, energy_pJ (per
// inference), latency_ns, read_ns, write_ns, area_<part>_um2, area_mm2, ops.
c10::Dict<std::string, double> cost_dict(const LayerCost& c);

// CSV: a header `layer,<cost_values names>` and one row per layer.
std::string cost_csv(const std::vector<LayerCostRow>& rows);

// Per-layer energy by component, latency, area, and the totals (TOPS/W, TOPS/mm^2).
std::string cost_table(const std::vector<LayerCostRow>& rows, const std::string& per);

}  // namespace xbar
