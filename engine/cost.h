// The cost model: energy, latency and area of a layer from its counted events (layer_counters.h)
// and a hardware description (hardware.h). A pure function of the two, so a study point, `xbar
// eval`, `xbar mvm` and Python get the same numbers from the same run (docs/DESIGN.md, "Cost").
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "engine/config.h"
#include "engine/hardware.h"
#include "engine/layer_counters.h"

namespace xbar {

// Energy by component, pJ.
struct Energy {
  double adc = 0, dac = 0, array = 0, shift_add = 0, accumulate = 0, digital = 0, buffer = 0, network = 0,
         write = 0;
  double total() const;
};
struct EnergyField {
  const char* name;
  double Energy::*member;
};
const std::vector<EnergyField>& energy_fields();

struct Area {  // um^2
  double arrays = 0, adc = 0, dac = 0, digital = 0;
  double total() const { return arrays + adc + dac + digital; }
};

struct LayerCost {
  Energy energy_pJ;         // every counted event; cell writes included (see writes_per_inference)
  double read_ns = 0;       // arrays in parallel; vectors, input slices and ADC sharing in series
  double write_ns = 0;      // rows in series, arrays in parallel
  Area area_um2;
  double ops = 0;           // 2 per analog MAC
  bool writes_per_inference = false;  // cell writes are part of every inference (attention operands)

  // Energy and latency of inference (without one-time weight programming).
  double inference_energy_pJ() const;
  double inference_latency_ns() const;
};

// Cost of every event in c. writes_per_inference: the layer writes its operand at every call.
LayerCost layer_cost(const Hardware& hw, const XbarConfig& cfg, const LayerCounters& c, bool writes_per_inference);
// Named numbers (Python dicts, HDF5 attributes, results columns): energy_<component>_pJ,
// energy_pJ (inference), latency_ns, read_ns, write_ns, area_<part>_um2, area_mm2, ops.
std::vector<std::pair<std::string, double>> cost_values(const LayerCost& c);
// Divides energies and latencies by n (per inference); area unchanged.
LayerCost per_inference(LayerCost c, double n);

struct ModelCost {
  Energy energy_pJ;           // inference energy by component (one-time weight writes excluded)
  double program_energy_pJ = 0;  // one-time weight programming
  double latency_ns = 0;      // layers in sequence
  double pipeline_ns = 0;     // slowest layer: one inference per this time when layers pipeline
  double area_mm2 = 0;
  double ops = 0;
  double tops_per_w() const { return energy_pJ.total() > 0 ? ops / energy_pJ.total() : 0; }
  double tops_per_mm2() const { return latency_ns > 0 && area_mm2 > 0 ? ops / (latency_ns * 1e3) / area_mm2 : 0; }
};
ModelCost model_cost(const std::vector<LayerCost>& layers);

}  // namespace xbar
