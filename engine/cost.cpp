#include "engine/cost.h"

#include <algorithm>
#include <cmath>

#include "engine/mapping.h"

namespace xbar {

const std::vector<EnergyField>& energy_fields() {
  using E = Energy;
  static const std::vector<EnergyField> f = {
      {"adc", &E::adc},         {"dac", &E::dac},         {"array", &E::array},
      {"shift_add", &E::shift_add}, {"accumulate", &E::accumulate}, {"digital", &E::digital},
      {"buffer", &E::buffer},   {"network", &E::network}, {"write", &E::write},
  };
  return f;
}

double Energy::total() const {
  double t = 0;
  for (const auto& f : energy_fields()) t += this->*f.member;
  return t;
}

double LayerCost::inference_energy_pJ() const {
  return energy_pJ.total() - (writes_per_inference ? 0.0 : energy_pJ.write);
}

double LayerCost::inference_latency_ns() const { return read_ns + (writes_per_inference ? write_ns : 0.0); }

LayerCost layer_cost(const Hardware& hw, const XbarConfig& cfg, const LayerCounters& c, bool writes_per_inference) {
  LayerCost r;
  r.writes_per_inference = writes_per_inference;
  const MappingConfig& mc = cfg.mapping;
  const int adc_bits = cfg.adc.ideal() ? hw.ideal_adc_bits : cfg.adc.bits;
  Energy& e = r.energy_pJ;
  e.adc = double(c.column_outputs) * hw.adc_energy_at(adc_bits);
  e.dac = double(c.input_pulses) * hw.dac_energy_pJ + double(c.input_drives) * hw.dac_drive_energy_pJ;
  // E = t_read V^2 sum_i v_i^2 sum_j G_ij; ns * V^2 * uS = 1e-15 J = 1e-3 pJ.
  e.array = hw.read_time_ns * hw.read_voltage_V * hw.read_voltage_V * c.array_v2g_uS * 1e-3;
  e.shift_add = double(c.column_outputs) * hw.shift_add_energy_pJ;
  e.accumulate = double(c.accumulations) * hw.accumulate_energy_pJ;
  // Digital: outlier and digital-layer MACs; unscale and bias per output.
  e.digital = double(c.digital_macs) * hw.digital_mac_energy_pJ + 2.0 * double(c.outputs) * hw.digital_op_energy_pJ;
  // Buffers: every array's input register receives the inputs of its rows (arrays of the same
  // rows each get their copy), every output is written once.
  const double array_inputs = double(c.input_drives) / cfg.dac.slices();
  e.buffer = (array_inputs + double(c.outputs)) * hw.activation_bits * hw.buffer_energy_pJ_per_bit;
  // Network: inputs broadcast to each column tile, partial sums sent across row tiles.
  const double outs_per_vector = c.vectors > 0 ? double(c.outputs) / double(c.vectors) : 0.0;
  const double col_tiles = c.analog_macs > 0 ? std::ceil(outs_per_vector / mc.tile_cols) : 0.0;
  e.network = (double(c.inputs) * col_tiles * hw.activation_bits + double(c.accumulations) * hw.partial_sum_bits) *
              hw.network_energy_pJ_per_bit;
  e.write = double(c.cells_written) * hw.cell_write_energy_pJ;
  r.ops = 2.0 * double(c.analog_macs);

  if (c.arrays > 0) {
    const int phys_cols = mc.tile_cols + (mc.mapping == SignedMapping::offset ? 1 : 0);
    const int slices = slice_layout(mc).slices;
    const int input_slices = cfg.dac.slices();
    // One input slice: the array read, then the shared ADC converts its columns one by one.
    const double convert_ns = std::min(hw.columns_per_adc, mc.tile_cols) * hw.adc_time_ns;
    const double slice_ns = hw.sample_and_hold ? std::max(hw.read_time_ns, convert_ns) : hw.read_time_ns + convert_ns;
    r.read_ns = double(c.vectors) * input_slices * slice_ns;
    r.write_ns = double(c.rows_written) * hw.cell_write_time_ns;  // rows in series, arrays in parallel
    const double adcs = double(c.tiles) * slices * std::ceil(double(mc.tile_cols) / hw.columns_per_adc);
    r.area_um2.arrays = double(c.arrays) * (double(mc.tile_rows) * phys_cols * hw.cell_area_um2 + hw.array_periphery_area_um2);
    r.area_um2.adc = adcs * hw.adc_area_um2;
    r.area_um2.dac = double(c.arrays) * mc.tile_rows * hw.dac_area_um2;
    r.area_um2.digital = adcs * hw.shift_add_area_um2;
  }
  return r;
}

std::vector<std::pair<std::string, double>> cost_values(const LayerCost& c) {
  std::vector<std::pair<std::string, double>> v;
  for (const auto& f : energy_fields()) v.emplace_back(std::string("energy_") + f.name + "_pJ", c.energy_pJ.*f.member);
  v.emplace_back("energy_pJ", c.inference_energy_pJ());
  v.emplace_back("latency_ns", c.inference_latency_ns());
  v.emplace_back("read_ns", c.read_ns);
  v.emplace_back("write_ns", c.write_ns);
  v.emplace_back("area_arrays_um2", c.area_um2.arrays);
  v.emplace_back("area_adc_um2", c.area_um2.adc);
  v.emplace_back("area_dac_um2", c.area_um2.dac);
  v.emplace_back("area_digital_um2", c.area_um2.digital);
  v.emplace_back("area_mm2", c.area_um2.total() * 1e-6);
  v.emplace_back("ops", c.ops);
  v.emplace_back("writes_per_inference", c.writes_per_inference ? 1.0 : 0.0);
  return v;
}

LayerCost per_inference(LayerCost c, double n) {
  if (!(n > 0)) return c;
  for (const auto& f : energy_fields()) c.energy_pJ.*f.member /= n;
  c.read_ns /= n;
  c.write_ns /= n;
  c.ops /= n;
  return c;
}

ModelCost model_cost(const std::vector<LayerCost>& layers) {
  ModelCost m;
  for (const LayerCost& l : layers) {
    for (const auto& f : energy_fields())
      if (f.member != &Energy::write || l.writes_per_inference) m.energy_pJ.*f.member += l.energy_pJ.*f.member;
    if (!l.writes_per_inference) m.program_energy_pJ += l.energy_pJ.write;
    m.latency_ns += l.inference_latency_ns();
    m.pipeline_ns = std::max(m.pipeline_ns, l.inference_latency_ns());
    m.area_mm2 += l.area_um2.total() * 1e-6;
    m.ops += l.ops;
  }
  return m;
}

}  // namespace xbar
