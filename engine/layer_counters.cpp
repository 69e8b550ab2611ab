#include "engine/layer_counters.h"

#include <algorithm>

namespace xbar {

const std::vector<CounterField>& counter_fields() {
  using C = LayerCounters;
  using M = CounterMerge;
  static const std::vector<CounterField> f = {
      {"tiles", "row tiles x column tiles", &C::tiles, M::max},
      {"arrays", "physical arrays (tiles x slices x arrays per slice)", &C::arrays, M::max},
      {"occupancy", "used cells / physical cells", &C::occupancy, M::last},
      {"reads", "read() calls since programming", &C::reads, M::sum},
      {"conversions", "ADC conversions", &C::conversions, M::sum},
      {"saturations", "conversions clipped at the ADC range", &C::saturations, M::sum},
      {"dac_clipped", "inputs clipped by a static DAC range", &C::dac_clipped, M::sum},
      {"bytes_per_weight", "programmed and read state held per weight", &C::bytes_per_weight, M::last},
      {"ir_drop_severity", "worst relative column-current shortfall (all-ones input), max over arrays",
       &C::ir_drop_severity, M::max},
      {"digital_weights", "weights in the sparse float outlier path", &C::digital_weights, M::max},
      {"digital_channels", "input channels routed to float in the last read", &C::digital_channels, M::last},
      {"solver_residual", "worst parasitic solver residual (last drift step)", &C::solver_residual, M::max},
      {"drift_factor", "mean digital drift-compensation factor over outputs (1: off)", &C::drift_factor, M::last},
      {"vectors", "input vectors read", &C::vectors, M::sum},
      {"analog_macs", "multiply-accumulates on arrays", &C::analog_macs, M::sum},
      {"input_pulses", "nonzero input-slice values applied to array rows", &C::input_pulses, M::sum},
      {"input_drives", "array rows driven per input slice (any value)", &C::input_drives, M::sum},
      {"array_v2g_uS", "sum over array reads of sum_i v_i^2 sum_j G_ij [full-scale^2 uS]", &C::array_v2g_uS, M::sum},
      {"column_outputs", "column signals converted and shift-added (per tile, weight and input slice)",
       &C::column_outputs, M::sum},
      {"accumulations", "partial sums added across row tiles", &C::accumulations, M::sum},
      {"cells_written", "cells programmed", &C::cells_written, M::sum},
      {"rows_written", "row-programming steps (per write, the most rows one array programs; arrays in parallel)",
       &C::rows_written, M::sum},
      {"digital_macs", "multiply-accumulates in digital paths (outliers, digital layers)", &C::digital_macs, M::sum},
      {"inputs", "input values read", &C::inputs, M::sum},
      {"outputs", "output values produced", &C::outputs, M::sum},
  };
  return f;
}

double counter_value(const LayerCounters& c, const CounterField& f) {
  return std::visit([&](auto m) { return double(c.*m); }, f.member);
}

void merge_counters(LayerCounters& total, const LayerCounters& c) {
  for (const CounterField& f : counter_fields())
    std::visit(
        [&](auto m) {
          switch (f.merge) {
            case CounterMerge::sum: total.*m += c.*m; break;
            case CounterMerge::max: total.*m = std::max(total.*m, c.*m); break;
            case CounterMerge::last: total.*m = c.*m; break;
          }
        },
        f.member);
}

LayerCounters counters_since(const LayerCounters& now, const LayerCounters& before) {
  LayerCounters d = now;
  for (const CounterField& f : counter_fields())
    if (f.merge == CounterMerge::sum) std::visit([&](auto m) { d.*m -= before.*m; }, f.member);
  return d;
}

}  // namespace xbar
