// xbar eval: task metric of a model on emulated chips (mean and std over programmed chips), at one
// or several read times after programming and drift-compensation modes.
#include <torch/script.h>

#include <cmath>
#include <cxxopts.hpp>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "common/atomic_file.h"
#include "ml/evaluate.h"
#include "ml/model_data.h"
#include "common/stats.h"
#include "common/time_units.h"
#include "torch/convert.h"
#include "torch/model_cost.h"
#include "commands.h"
#include "config_options.h"
#include "calibration_options.h"

namespace xbar::cli {

namespace {
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t a = 0;
  while (true) {
    const size_t b = s.find(',', a);
    out.push_back(s.substr(a, b == std::string::npos ? std::string::npos : b - a));
    if (b == std::string::npos) return out;
    a = b + 1;
  }
}
}  // namespace

int cmd_eval(int argc, char** argv) {
  cxxopts::Options opt("xbar eval",
                       "Evaluates a float TorchScript model converted with a policy on N programmed chips: test accuracy (%)\n"
                       "on IDX image data (--data; default Fashion-MNIST) or bits per character on the fortunes validation split (prefill, and decode\n"
                       "token by token through the KV cache); prints mean, std and the per-layer counters of the last chip.\n"
                       "With several read times each chip is programmed once and read at every time in order (the same\n"
                       "chip ageing; calibrated ADC ranges are set by a calibration pass on training samples, at the first time); with several\n"
                       "drift-compensation modes the same chips are evaluated once per mode. A table time x mode follows.");
  opt.add_options()("model", "TorchScript float model (.pt)", cxxopts::value<std::string>())(
      "policy", "policy TOML (default: every stage ideal)", cxxopts::value<std::string>()->default_value(""))(
      "task", "one of: " + join_names(enum_names<Task>()), cxxopts::value<std::string>()->default_value("fashion_mnist"))(
      "device", "HDF5 device file: sets device.model = file for every operator", cxxopts::value<std::string>()->default_value(""))(
      "t-inference", "time(s) between programming and reading, comma-separated, each a number with an optional unit: "
      "s (default), min, h, d, w, mo (= 1 y / 12 = 2.6298e6 s), y (= 365.25 d = 3.15576e7 s), e.g. 1s,1h,1d,1mo,1y "
      "(default: the policy's run.t_inference_s)", cxxopts::value<std::string>())(
      "drift-compensation", "drift_compensation.mode(s) to compare, comma-separated: none, global, column "
      "(default: the policy's)", cxxopts::value<std::string>())(
      "repeats", "programmed chips (count)", cxxopts::value<int>()->default_value("3"))(
      "chip-offset", "index of the first chip: chips chip-offset .. chip-offset+repeats-1 (each index draws its own "
      "devices; xbar tune's report gives the offset of its fresh re-measurement chips)",
      cxxopts::value<int>()->default_value("0"))(
      "samples", "test images / validation characters (count; 0 = all)", cxxopts::value<int64_t>()->default_value("0"))(
      "data", "task fashion_mnist: directory of IDX image data (train/t10k images and labels, as xbar train --data; "
      "default $XBAR_FASHION_MNIST or /usr/share/datasets/fashion-mnist); inputs are normalised as the model records, "
      "else with the mean and std of the data's training pixels", cxxopts::value<std::string>())(
      "set", "override a config key of the policy's default, e.g. --set adc.bits=6 (repeatable)",
      cxxopts::value<std::vector<std::string>>())(
      "decode-windows", "task text: also measure bits per character when generating token by token through the "
      "KV cache (decode phase) over this many context windows (count; 0 = skip)",
      cxxopts::value<int64_t>()->default_value("4"))(
      "hardware", "hardware description TOML for the cost table (`xbar hardware schema`)",
      cxxopts::value<std::string>()->default_value(XBAR_SOURCE_DIR "/data/hardware/default.toml"))(
      "cost-csv", "also write the per-layer cost (per inference, prefill) to this CSV (tools/plot_study.py --breakdown)",
      cxxopts::value<std::string>()->default_value(""));
  add_calibration_options(opt);
  opt.add_options()("split", "evaluate on: test (the image test set / fortunes validation split) or "
      "heldout (the held-out part of the training data, for choosing calibration settings)",
      cxxopts::value<std::string>()->default_value("test"))("h,help", "show this help");
  const auto parsed = parse_or_help(opt, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& res = *parsed;
  require_options(res, opt, {"model"});
  Policy policy;
  if (!res["policy"].as<std::string>().empty()) policy = load_policy(res["policy"].as<std::string>());
  XbarConfig base = policy.defaults;
  if (!res["device"].as<std::string>().empty()) {
    base.device.model = DeviceKind::file;
    base.device.file = res["device"].as<std::string>();
  }
  apply_set_options(base, res);
  std::vector<double> times = {base.run.t_inference_s};
  if (res.count("t-inference")) times = parse_duration_list(res["t-inference"].as<std::string>(), "--t-inference");
  base.run.t_inference_s = times[0];
  std::vector<std::string> modes = {enum_name(base.drift_compensation.mode)};
  if (res.count("drift-compensation")) modes = split_list(res["drift-compensation"].as<std::string>());
  for (const auto& mo : modes) {
    XbarConfig c = base;
    set_key(c, "drift_compensation.mode", mo);
    c.validate();  // names drift_compensation.mode and the bad value
  }
  base.validate();
  const int repeats = res["repeats"].as<int>();
  if (repeats < 1) throw ConfigError("--repeats", std::to_string(repeats), "must be >= 1");
  const int offset = res["chip-offset"].as<int>();
  if (offset < 0) throw ConfigError("--chip-offset", std::to_string(offset), "must be >= 0");
  const std::string path = res["model"].as<std::string>();
  const Hardware hw = load_hardware(res["hardware"].as<std::string>());
  const Task task = parse_enum<Task>("--task", res["task"].as<std::string>());
  const EvalSplit split = parse_enum<EvalSplit>("--split", res["split"].as<std::string>());
  const CalibrationOptions cal = calibration_options(res);
  torch::jit::Module fm = load_torchscript(path);
  require_float_model(fm, path);
  if (task == Task::text && res.count("data")) throw ConfigError("--data", res["data"].as<std::string>(), "applies to task fashion_mnist");
  const data::ImageData images = image_data_for(fm, res.count("data") ? res["data"].as<std::string>() : data::default_image_dir());
  const EvalData data = split == EvalSplit::test ? load_eval_data(task, res["samples"].as<int64_t>(), 0, cal, images)
                                                 : load_validation_data(task, res["samples"].as<int64_t>(), 0, cal, images);
  std::cout << "data " << describe(data, split == EvalSplit::test ? (task == Task::text ? "validation" : "test") : "held-out") << "\n";
  const int64_t dw = data.task == Task::text ? res["decode-windows"].as<int64_t>() : 0;
  const double float_metric = evaluate(fm, data);
  std::cout << std::fixed << std::setprecision(3) << "float " << data.metric() << " " << float_metric;
  if (dw > 0) std::cout << "  decode (first " << dw << " windows) " << evaluate_decode(fm, data, dw);
  std::cout << "\n";
  const bool single = times.size() == 1 && modes.size() == 1;
  std::vector<std::vector<Samples>> stats(times.size(), std::vector<Samples>(modes.size()));
  torch::jit::Module m;
  std::vector<LayerCostRow> cost, decode_cost;  // the last evaluation's, per inference
  for (size_t mi = 0; mi < modes.size(); ++mi) {
    Policy p = policy;  // the mode changes the default: policy overrides that set it still win
    p.defaults = base;
    set_key(p.defaults, "drift_compensation.mode", modes[mi]);
    m = load_torchscript(path);
    convert_module(m, p);
    for (int r = 0; r < repeats; ++r) {
      program_chip(m, offset + r);
      for (size_t ti = 0; ti < times.size(); ++ti) {
        drift_model(m, times[ti]);
        if (ti == 0 && calibrate(m, data.calibration)) report_calibration(m, data.calibration, r == 0 && mi == 0);
        std::vector<LayerCounters> before = model_counters(m);
        const double v = evaluate(m, data);
        cost = model_cost_rows(m, hw, before, double(eval_inferences(m, data)));
        std::cout << "chip " << offset + r;
        if (!single) std::cout << " t " << format_duration(times[ti]) << " drift_compensation " << modes[mi];
        std::cout << " " << data.metric() << " " << v;
        if (dw > 0) {
          calibrate_decode(m, data.calibration);  // layers only decode reaches: not priced as decoding
          before = model_counters(m);
          std::cout << "  decode (first " << dw << " windows) " << evaluate_decode(m, data, dw);
          decode_cost = model_cost_rows(m, hw, before, double(decode_inferences(m, data, dw)));
        }
        std::cout << "\n" << std::flush;
        stats[ti][mi].add(v);
      }
    }
  }
  if (single) {
    std::cout << "analog " << data.metric() << " " << stats[0][0].mean() << " +- " << stats[0][0].sd() << " ("
              << repeats << " chips)\n";
  } else {
    std::cout << data.metric() << " mean +- std over " << repeats << " chips (float " << float_metric << ")\n"
              << std::setw(12) << "t_inference";
    for (const auto& mo : modes) std::cout << std::setw(20) << mo;
    std::cout << "\n";
    for (size_t ti = 0; ti < times.size(); ++ti) {
      std::cout << std::setw(12) << format_duration(times[ti]);
      for (const auto& s : stats[ti]) {
        std::ostringstream cell;
        cell << std::fixed << std::setprecision(2) << s.mean() << " +- " << s.sd();
        std::cout << std::setw(20) << cell.str();
      }
      std::cout << "\n";
    }
  }
  std::cout << "layer counters (last chip, time and mode):\n";
  for (const auto& l : xbar_layers(m)) {
    const auto c = l->counters();
    std::cout << "  " << std::left << std::setw(24) << l->name() << std::right << " tiles " << std::setw(3)
              << int64_t(c.at("tiles")) << "  conversions " << std::setw(10) << int64_t(c.at("conversions"))
              << "  saturations " << std::setw(8) << int64_t(c.at("saturations")) << "  occupancy "
              << std::setprecision(3) << c.at("occupancy") << "  drift_factor " << c.at("drift_factor") << "\n";
  }
  std::cout << "hardware " << hw.name << " (" << res["hardware"].as<std::string>() << "); last chip, time and mode\n"
            << cost_table(cost, data.task == Task::text ? "prompt token (prefill)" : "image");
  if (!decode_cost.empty()) std::cout << cost_table(decode_cost, "generated token (decode, incl. KV writes)");
  if (const std::string csv = res["cost-csv"].as<std::string>(); !csv.empty()) write_file_atomic(csv, cost_csv(cost));
  return 0;
}

}  // namespace xbar::cli
