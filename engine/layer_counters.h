// What a layer counts: one struct, and one table naming every field with its meaning and how the
// counters of successive programmings of one layer combine (attention layers program a new matrix
// per product). Dictionaries, HDF5 attributes and totals come from the table.
#pragma once
#include <cstdint>
#include <variant>
#include <vector>

namespace xbar {

struct LayerCounters {
  int64_t tiles = 0;
  int64_t arrays = 0;
  double occupancy = 0;
  int64_t reads = 0;
  int64_t conversions = 0;
  int64_t saturations = 0;
  int64_t dac_clipped = 0;
  double bytes_per_weight = 0;
  double ir_drop_severity = 0;
  int64_t digital_weights = 0;
  int64_t digital_channels = 0;
  double solver_residual = 0;
  double drift_factor = 1;
  // Events the cost model (engine/cost.h) prices; user reads and programmings only.
  int64_t vectors = 0;         // input vectors read (batch rows)
  int64_t analog_macs = 0;     // multiply-accumulates done on arrays (vectors x rows x columns per tile)
  int64_t input_pulses = 0;    // nonzero input-slice values applied to an array row
  int64_t input_drives = 0;    // array rows driven per input slice, whatever the value
  double array_v2g_uS = 0;     // sum over array reads of sum_i v_i^2 sum_j G_ij (v: full-scale units)
  int64_t column_outputs = 0;  // column signals of every (tile, weight slice, input slice): ADC conversions
                               // and shift-adds
  int64_t accumulations = 0;   // partial sums added across row tiles
  int64_t cells_written = 0;   // cells programmed
  int64_t rows_written = 0;    // row-programming steps: per write, the most rows one array programs
  int64_t digital_macs = 0;    // multiply-accumulates in the digital paths (outliers, digital layers)
  int64_t inputs = 0;          // input values read (vectors x in)
  int64_t outputs = 0;         // output values produced (vectors x out)
};

enum class CounterMerge {
  sum,   // events: every programming adds its own
  max,   // sizes and worst cases
  last,  // states of the latest programming
};

struct CounterField {
  const char* name;
  const char* doc;
  std::variant<int64_t LayerCounters::*, double LayerCounters::*> member;
  CounterMerge merge;
};

const std::vector<CounterField>& counter_fields();

double counter_value(const LayerCounters& c, const CounterField& f);
// total <- total combined with c, field by field as the table says.
void merge_counters(LayerCounters& total, const LayerCounters& c);
// What was counted between two snapshots of one programming: events (sum fields) now - before,
// sizes and states as now.
LayerCounters counters_since(const LayerCounters& now, const LayerCounters& before);

}  // namespace xbar
