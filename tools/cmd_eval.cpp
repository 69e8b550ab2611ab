// xbar eval: task metric of a model on emulated chips (mean and std over programmed chips).
#include <torch/script.h>

#include <cmath>
#include <cxxopts.hpp>
#include <iomanip>
#include <iostream>

#include "src/study/evaluate.h"
#include "src/torch/convert.h"
#include "tools/commands.h"
#include "tools/config_options.h"

namespace xbar::cli {

int cmd_eval(int argc, char** argv) {
  cxxopts::Options opt("xbar eval",
                       "Evaluates a float TorchScript model converted with a policy on N programmed chips: Fashion-MNIST\n"
                       "test accuracy (%) or bits per character on the fortunes validation split (prefill, and decode\n"
                       "token by token through the KV cache); prints mean, std and the per-layer counters of the last chip.");
  opt.add_options()("model", "TorchScript float model (.pt)", cxxopts::value<std::string>())(
      "policy", "policy TOML (default: every stage ideal)", cxxopts::value<std::string>()->default_value(""))(
      "task", "fashion_mnist or text", cxxopts::value<std::string>()->default_value("fashion_mnist"))(
      "device", "HDF5 device file: sets device.model = file for every operator", cxxopts::value<std::string>()->default_value(""))(
      "t-inference", "seconds between programming and reading (s; default: the policy's run.t_inference_s)",
      cxxopts::value<double>())("repeats", "programmed chips (count)", cxxopts::value<int>()->default_value("3"))(
      "samples", "test images / validation characters (count; 0 = all)", cxxopts::value<int64_t>()->default_value("0"))(
      "set", "override a config key of the policy's default, e.g. --set adc.bits=6 (repeatable)",
      cxxopts::value<std::vector<std::string>>())(
      "decode-windows", "task text: also measure bits per character when generating token by token through the "
      "KV cache (decode phase) over this many context windows (count; 0 = skip)",
      cxxopts::value<int64_t>()->default_value("4"))("h,help", "show this help");
  auto res = opt.parse(argc, argv);
  if (res.count("help")) {
    std::cout << opt.help();
    return 0;
  }
  if (!res.count("model")) throw Error("--model is required (see xbar eval --help)");
  Policy policy;
  if (!res["policy"].as<std::string>().empty()) policy = load_policy(res["policy"].as<std::string>());
  XbarConfig base;
  apply_toml_string(base, policy.default_toml, policy.source);
  if (!res["device"].as<std::string>().empty()) {
    base.device.model = "file";
    base.device.file = res["device"].as<std::string>();
  }
  if (res.count("t-inference")) base.run.t_inference_s = res["t-inference"].as<double>();
  apply_set_options(base, res);
  base.validate();
  policy.default_toml = to_toml(base);
  const int repeats = res["repeats"].as<int>();
  if (repeats < 1) throw ConfigError("--repeats", std::to_string(repeats), "must be >= 1");
  const std::string path = res["model"].as<std::string>();
  const EvalData data = load_eval_data(res["task"].as<std::string>(), res["samples"].as<int64_t>(), 0);
  torch::jit::Module fm = load_torchscript(path);
  const int64_t dw = data.task == "text" ? res["decode-windows"].as<int64_t>() : 0;
  std::cout << std::fixed << std::setprecision(3) << "float " << data.metric() << " " << evaluate(fm, data);
  if (dw > 0) std::cout << "  decode (first " << dw << " windows) " << evaluate_decode(fm, data, dw);
  std::cout << "\n";
  double s = 0, s2 = 0;
  torch::jit::Module m = load_torchscript(path);
  const ConvertReport rep = convert_module(m, policy);
  for (int r = 0; r < repeats; ++r) {
    program_chip(m, r);
    const double v = evaluate(m, data);
    std::cout << "chip " << r << " " << data.metric() << " " << v;
    if (dw > 0) std::cout << "  decode (first " << dw << " windows) " << evaluate_decode(m, data, dw);
    std::cout << "\n";
    s += v;
    s2 += v * v;
  }
  const double mean = s / repeats, sd = repeats > 1 ? std::sqrt(std::max(0.0, (s2 - repeats * mean * mean) / (repeats - 1))) : 0.0;
  std::cout << "analog " << data.metric() << " " << mean << " +- " << sd << " (" << repeats << " chips)\n";
  std::cout << "layer counters (last chip):\n";
  for (const auto& l : xbar_layers(m)) {
    const auto c = l->counters();
    std::cout << "  " << std::left << std::setw(24) << l->name() << std::right << " tiles " << std::setw(3)
              << int64_t(c.at("tiles")) << "  conversions " << std::setw(10) << int64_t(c.at("conversions"))
              << "  saturations " << std::setw(8) << int64_t(c.at("saturations")) << "  occupancy "
              << std::setprecision(3) << c.at("occupancy") << "\n";
  }
  (void)rep;
  return 0;
}

}  // namespace xbar::cli
