// xbar mvm: one layer through the emulated crossbar, for verification and users' own scripts.
#include <cxxopts.hpp>
#include <iostream>

#include "common/atomic_file.h"
#include "engine/config.h"
#include "engine/mvm_io.h"
#include "commands.h"
#include "config_options.h"

namespace xbar::cli {

int cmd_mvm(int argc, char** argv) {
  cxxopts::Options opt("xbar mvm",
                       "Programs W onto emulated crossbar arrays, drifts to run.t_inference_s and reads Y = X W^T + bias.\n"
                       "Input HDF5: W (out x in), X (batch x in), optional bias (out), float64 or float32.\n"
                       "Output HDF5: Y (batch x out, float32), /counters, /cost (energy, latency, area of the programming and\n"
                       "all reads, writes included) and /config attributes.");
  opt.add_options()("in", "input HDF5 file with W, X and optional bias", cxxopts::value<std::string>())(
      "out", "output HDF5 file (overwritten)", cxxopts::value<std::string>())(
      "calibrate", "for adc.range = calibrated: HDF5 file whose dataset X calibrates the ADC range (default: the input X)",
      cxxopts::value<std::string>()->default_value(""))(
      "repeat", "read the same programmed chip this many times; Y holds the last read (counts, default 1)",
      cxxopts::value<int>()->default_value("1"))(
      "hardware", "hardware description TOML for the /cost group (`xbar hardware schema`)",
      cxxopts::value<std::string>()->default_value(XBAR_SOURCE_DIR "/data/hardware/default.toml"));
  const auto parsed = parse_with_config(opt, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& res = *parsed;
  require_options(res, opt, {"in", "out"});
  const XbarConfig cfg = config_from_options(res);
  const std::string cal = res["calibrate"].as<std::string>();
  refuse_alias(res["in"].as<std::string>(), "--in", res["out"].as<std::string>(), "--out");
  if (!cal.empty()) refuse_alias(cal, "--calibrate", res["out"].as<std::string>(), "--out");
  const MvmInput in = read_mvm_input(res["in"].as<std::string>());
  AnalogLayer layer(cfg);
  layer.program(in.W, in.bias.empty() ? nullptr : in.bias.data());
  // An empty X reads nothing and needs no range; an empty --calibrate X is an error.
  if (cfg.adc.range == AdcRange::calibrated && !cfg.adc.ideal() && (!cal.empty() || in.X.rows() > 0))
    layer.calibrate(cal.empty() ? in.X : read_mvm_input(cal).X);
  const int repeat = res["repeat"].as<int>();
  if (repeat < 1) throw ConfigError("--repeat", std::to_string(repeat), "must be >= 1");
  RowMatrixXf Y;
  for (int r = 0; r < repeat; ++r) Y = layer.read(in.X);
  const Hardware hw = load_hardware(res["hardware"].as<std::string>());
  write_mvm_output(res["out"].as<std::string>(), Y, layer, &hw);
  const LayerCounters& c = layer.counters();
  std::cout << "mvm: " << in.W.rows() << "x" << in.W.cols() << " weights, batch " << in.X.rows() << ", tiles " << c.tiles
            << ", arrays " << c.arrays << ", conversions " << c.conversions << ", saturated " << c.saturations
            << ", bytes/weight " << c.bytes_per_weight << "\n";
  return 0;
}

}  // namespace xbar::cli
