#include "engine/hardware.h"

#include <cmath>

#include "engine/config_toml.h"

namespace xbar {

const std::vector<Field<Hardware>>& Hardware::fields() {
  using H = Hardware;
  constexpr double big = 1e12;
  static const std::vector<Field<H>> f = {
      {"name", "", "name of the design", &H::name},
      {"source", "", "publication the figures come from", &H::source},
      {"tech_node_nm", "nm", "technology node (metadata)", &H::tech_node_nm, 1, 1e4},
      {"vdd_V", "V", "supply voltage (metadata)", &H::vdd_V, 0, 100},
      {"clock_GHz", "GHz", "digital clock (metadata)", &H::clock_GHz, 0, 1e3},
      {"adc_energy_pJ", "pJ", "energy per ADC conversion at adc_ref_bits", &H::adc_energy_pJ, 0, big},
      {"adc_ref_bits", "bit", "resolution at which adc_energy_pJ is given", &H::adc_ref_bits, 1, 32},
      {"adc_energy_factor_per_bit", "", "ADC energy ratio per extra bit (2: constant Walden FOM)",
       &H::adc_energy_factor_per_bit, 1, 16},
      {"adc_time_ns", "ns", "time per ADC conversion", &H::adc_time_ns, 0, big},
      {"adc_area_um2", "um^2", "area of one ADC", &H::adc_area_um2, 0, big},
      {"columns_per_adc", "", "array columns sharing one ADC (converted in series)", &H::columns_per_adc, 1, 1 << 20},
      {"ideal_adc_bits", "bit", "resolution charged when the configuration's ADC is ideal (adc.bits = 0)",
       &H::ideal_adc_bits, 1, 32},
      {"sample_and_hold", "", "conversions of one input slice overlap the array read of the next",
       &H::sample_and_hold},
      {"dac_energy_pJ", "pJ", "energy per input pulse (nonzero input-slice value on one array row)",
       &H::dac_energy_pJ, 0, big},
      {"dac_drive_energy_pJ", "pJ", "energy per array row and input slice whatever the value (drivers kept on)",
       &H::dac_drive_energy_pJ, 0, big},
      {"dac_area_um2", "um^2", "area of one row driver (one per array row)", &H::dac_area_um2, 0, big},
      {"read_voltage_V", "V", "row voltage at the DAC's full scale", &H::read_voltage_V, 0, 100},
      {"read_time_ns", "ns", "array read time per input slice (integration window)", &H::read_time_ns, 0, big},
      {"cell_area_um2", "um^2", "area of one cell", &H::cell_area_um2, 0, big},
      {"array_periphery_area_um2", "um^2", "per array: sample-and-hold, muxes, registers",
       &H::array_periphery_area_um2, 0, big},
      {"cell_write_energy_pJ", "pJ", "energy to program one cell", &H::cell_write_energy_pJ, 0, big},
      {"cell_write_time_ns", "ns", "time to program one row of an array", &H::cell_write_time_ns, 0, big},
      {"shift_add_energy_pJ", "pJ", "energy per shift-and-add of one converted column signal",
       &H::shift_add_energy_pJ, 0, big},
      {"shift_add_area_um2", "um^2", "shift-and-add area per ADC", &H::shift_add_area_um2, 0, big},
      {"accumulate_energy_pJ", "pJ", "energy per partial-sum addition across row tiles", &H::accumulate_energy_pJ, 0, big},
      {"digital_mac_energy_pJ", "pJ", "energy per digital multiply-accumulate (outlier paths, digital layers)",
       &H::digital_mac_energy_pJ, 0, big},
      {"digital_op_energy_pJ", "pJ", "energy per digital element operation (unscale, bias: 2 per output)",
       &H::digital_op_energy_pJ, 0, big},
      {"buffer_energy_pJ_per_bit", "pJ/bit", "activation buffer energy per bit: inputs into each array's input register, outputs back",
       &H::buffer_energy_pJ_per_bit, 0, big},
      {"activation_bits", "bit", "bits per buffered or transferred activation", &H::activation_bits, 1, 64},
      {"network_energy_pJ_per_bit", "pJ/bit", "on-chip network energy per bit moved between tiles",
       &H::network_energy_pJ_per_bit, 0, big},
      {"partial_sum_bits", "bit", "bits per partial sum moved across row tiles", &H::partial_sum_bits, 1, 64},
  };
  return f;
}

void Hardware::validate() const { check_fields(*this); }

double Hardware::adc_energy_at(int bits) const {
  return adc_energy_pJ * std::pow(adc_energy_factor_per_bit, double(bits - adc_ref_bits));
}

namespace {
Hardware from_table(const toml::table& root, const std::string& source) {
  Hardware h;
  try {
    for (const auto& [k, n] : root) {
      const std::string sec(k.str());
      const toml::table* t = n.as_table();
      if (sec != Hardware::section() || !t)
        throw ConfigError(sec, "?", "unknown section (a hardware file has one [hardware] table)");
      for (const auto& [kk, kn] : *t) {
        const std::string key(kk.str());
        set_field(h, key, toml_value(kn, sec + "." + key));
      }
    }
    h.validate();
  } catch (const ConfigError& e) {
    throw ConfigError(e.field(), "", std::string(e.what()) + " (in " + source + ")");
  }
  return h;
}
}  // namespace

Hardware hardware_from_toml(const std::string& text, const std::string& source_name) {
  return from_table(parse_toml(text, source_name), source_name);
}

Hardware load_hardware(const std::string& path) { return from_table(parse_toml_file(path), path); }

std::string hardware_help() { return "[hardware]\n" + fields_help<Hardware>(); }

}  // namespace xbar
