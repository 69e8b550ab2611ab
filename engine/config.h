// The full configuration of one analog layer: one struct per stage, read from TOML
// ([mapping], [device] with [device.normal] / [device.pcm] / [device.rram], [dac], [adc],
// [wires], [outliers], [run], [drift_compensation]) and `--set section.key=value` overrides
// (section names may be dotted: device.pcm.t0_s).
#pragma once
#include <string>
#include <vector>

#include "circuits/adc.h"
#include "circuits/dac.h"
#include "circuits/parasitics.h"
#include "devices/device_config.h"
#include "engine/drift_compensation.h"
#include "engine/mapping.h"
#include "engine/outliers.h"

namespace xbar {

struct RunConfig {
  int seed = 1;               // seed of every random draw (programming, faults, ADC, read noise)
  double t_inference_s = 1.0;  // time since programming at which the array is read
  int threads = 0;             // worker threads (0: OpenMP default)
  double token_interval_s = 0.05;  // time between decode steps: ages KV-cache cells written earlier

  static const char* section() { return "run"; }
  static const std::vector<Field<RunConfig>>& fields();
  void validate() const { check_fields(*this); }
};

struct XbarConfig {
  MappingConfig mapping;
  DeviceConfig device;
  DacConfig dac;
  AdcConfig adc;
  WireConfig wires;
  OutlierConfig outliers;
  RunConfig run;
  DriftCompensationConfig drift_compensation;

  void validate() const;
  // Visits every section struct (generic lambda taking any config struct).
  template <class F>
  void visit(F&& f) {
    f(mapping), device.visit_sections(f), f(dac), f(adc), f(wires), f(outliers), f(run), f(drift_compensation);
  }
  template <class F>
  void visit(F&& f) const {
    f(mapping), device.visit_sections(f), f(dac), f(adc), f(wires), f(outliers), f(run), f(drift_compensation);
  }
};

// Applies "section.key" = value (text from the command line, parsed per field type). The old flat
// keys of renamed_device_keys() are still accepted, so saved models and results files read.
void set_key(XbarConfig& cfg, const std::string& dotted_key, const std::string& value);
// The same for a typed value (engine/assignment.h applies lists of them).
void set_value(XbarConfig& cfg, const std::string& dotted_key, const FieldValue& value);
// One "--set section.key=value" override; ConfigError naming --set and the text without a '='.
void set_assignment(XbarConfig& cfg, const std::string& key_equals_value);
// Applies a TOML document; unknown sections/keys are errors naming the file and key, syntax errors
// FileErrors "SOURCE:LINE:COLUMN: description" (engine/config_toml.h).
void apply_toml_file(XbarConfig& cfg, const std::string& path);
void apply_toml_string(XbarConfig& cfg, const std::string& text, const std::string& source_name = "<string>");
// Every key with its current value, as TOML text.
std::string to_toml(const XbarConfig& cfg);
// Every key "section.key" -> current value text (for HDF5 attributes and result files).
std::vector<std::pair<std::string, std::string>> flatten(const XbarConfig& cfg);
// --help text: every key with unit, default, range and description.
std::string config_help();

}  // namespace xbar
