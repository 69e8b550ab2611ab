// xbar demo: one layer through the engine at several ADC resolutions and devices; prints the
// relative output error (mean and sample std over programmed chips) as a table.
#include <cmath>
#include <cstdio>
#include <cxxopts.hpp>
#include <random>

#include "common/stats.h"
#include "engine/analog_layer.h"
#include "commands.h"
#include "config_options.h"

namespace xbar::cli {

int cmd_demo(int argc, char** argv) {
  cxxopts::Options opt("xbar demo",
                       "Runs a random Gaussian layer (out x in) on ReLU-like inputs through the engine for several\n"
                       "devices and ADC resolutions (8-bit DAC, 8-bit weights, 256x256 tiles by default) and prints the\n"
                       "relative error ||Y - X W^T|| / ||X W^T|| with its std over programmed chips.");
  opt.add_options()("in", "layer inputs (count)", cxxopts::value<int>()->default_value("512"))(
      "out", "layer outputs (count)", cxxopts::value<int>()->default_value("512"))(
      "batch", "input vectors (count)", cxxopts::value<int>()->default_value("256"))(
      "chips", "programmed chips (Monte Carlo repeats) per point (count)", cxxopts::value<int>()->default_value("3"))(
      "adc-bits", "ADC resolutions to sweep (bit; 0 = ideal ADC)", cxxopts::value<std::vector<int>>()->default_value("4,5,6,8,10,0"))(
      "devices", "device models to sweep", cxxopts::value<std::vector<std::string>>()->default_value("ideal,pcm,rram"));
  const auto parsed = parse_with_config(opt, argc, argv);  // the config is the base before the sweep
  if (!parsed) return 0;
  const cxxopts::ParseResult& res = *parsed;
  XbarConfig base;
  base.dac.bits = 8;
  base.mapping.weight_bits = 8;
  base.adc.range = AdcRange::calibrated;
  base.adc.percentile = 99.99;
  if (!res["config"].as<std::string>().empty() || res.count("set")) base = config_from_options(res);
  const int in = res["in"].as<int>(), out = res["out"].as<int>(), batch = res["batch"].as<int>();
  const int chips = res["chips"].as<int>();
  if (in < 1 || out < 1 || batch < 1 || chips < 1) throw Error("--in, --out, --batch and --chips must be >= 1");
  std::mt19937 g(uint32_t(base.run.seed));
  std::normal_distribution<float> nd;
  RowMatrixXf W(out, in), X(batch, in);
  for (int i = 0; i < W.size(); ++i) W.data()[i] = nd(g) / std::sqrt(float(in));
  for (int i = 0; i < X.size(); ++i) X.data()[i] = std::max(0.f, nd(g));
  const Eigen::MatrixXd ref = X.cast<double>() * W.cast<double>().transpose();
  const auto devices = res["devices"].as<std::vector<std::string>>();
  const auto adcs = res["adc-bits"].as<std::vector<int>>();

  std::printf("relative error of a %dx%d layer (batch %d, %d chips, dac %d bit, weights %d bit, tiles %dx%d, t = %g s)\n",
              out, in, batch, chips, base.dac.bits, base.mapping.weight_bits, base.mapping.tile_rows,
              base.mapping.tile_cols, base.run.t_inference_s);
  std::printf("%-8s", "adc_bits");
  for (const auto& d : devices) std::printf(" | %-20s", d.c_str());
  std::printf("\n");
  for (int bits : adcs) {
    std::printf("%-8s", bits == 0 ? "ideal" : std::to_string(bits).c_str());
    for (const auto& d : devices) {
      XbarConfig c = base;
      set_key(c, "device.model", d);
      c.adc.bits = bits;
      Samples err;
      for (int chip = 0; chip < chips; ++chip) {
        AnalogLayer L(c);
        L.program(W, nullptr, uint64_t(chip));
        L.calibrate(X);
        err.add((L.read(X).cast<double>() - ref).norm() / ref.norm());
      }
      const MeanStd ms = err.stats();
      std::printf(" | %8.4f%% +- %6.4f%%", 100 * ms.mean, 100 * ms.sd);
      std::fflush(stdout);
    }
    std::printf("\n");
  }
  return 0;
}

}  // namespace xbar::cli
