// A hardware description: what each component of an analog accelerator costs in energy, time and
// area, read from data/hardware/*.toml (one [hardware] table; units in the key names). The cost
// model (cost.h) prices a layer's counted events with it. Technology node, supply and clock are
// metadata: the per-event figures already belong to that technology.
#pragma once
#include <string>
#include <vector>

#include "common/fields.h"

namespace xbar {

struct Hardware {
  std::string name = "default";
  std::string source = "ISAAC (Shafiee et al., ISCA 2016) periphery; MNSIM 2.0 cell read";  // publications the figures come from
  double tech_node_nm = 32;
  double vdd_V = 1.0;
  double clock_GHz = 1.2;
  // ADC: E(b) = adc_energy_pJ * adc_energy_factor_per_bit^(b - adc_ref_bits).
  double adc_energy_pJ = 1.67;
  int adc_ref_bits = 8;
  double adc_energy_factor_per_bit = 1.19;
  double adc_time_ns = 0.833;
  double adc_area_um2 = 1200;
  int columns_per_adc = 128;
  int ideal_adc_bits = 8;  // charged when the configuration's ADC is ideal (adc.bits = 0)
  bool sample_and_hold = true;  // conversions of one input slice overlap the next slice's array read
  // DAC (input driver), per array row.
  double dac_energy_pJ = 0.39;        // per pulse (nonzero input-slice value)
  double dac_drive_energy_pJ = 0;     // per row and input slice, whatever the value
  double dac_area_um2 = 0.166;
  // Array read and write.
  double read_voltage_V = 0.5;
  double read_time_ns = 3.16;
  double cell_area_um2 = 0.0015;
  double array_periphery_area_um2 = 5;
  double cell_write_energy_pJ = 10;
  double cell_write_time_ns = 1000;
  // Digital.
  double shift_add_energy_pJ = 0.021;
  double shift_add_area_um2 = 60;
  double accumulate_energy_pJ = 0.021;
  double digital_mac_energy_pJ = 1.0;
  double digital_op_energy_pJ = 0.1;
  double buffer_energy_pJ_per_bit = 0.0799;
  int activation_bits = 16;
  double network_energy_pJ_per_bit = 0.081;
  int partial_sum_bits = 16;

  static const char* section() { return "hardware"; }
  static const std::vector<Field<Hardware>>& fields();
  void validate() const;
  // Energy of one conversion at `bits` (pJ).
  double adc_energy_at(int bits) const;
};

// Reads a hardware file; unknown keys, types, ranges and non-finite values are errors naming the
// key and the file.
Hardware load_hardware(const std::string& path);
Hardware hardware_from_toml(const std::string& text, const std::string& source_name);
// "hardware.key [unit] help (default ...)" for every field.
std::string hardware_help();

}  // namespace xbar
