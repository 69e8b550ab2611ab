// xbar convert: rewrites a TorchScript model so its matrix products run on emulated crossbars.
#include <torch/script.h>

#include <cxxopts.hpp>
#include <iostream>
#include <optional>

#include "common/atomic_file.h"
#include "torch/convert.h"
#include "ml/model_data.h"
#include "calibration_options.h"
#include "cli_parse.h"
#include "commands.h"

namespace xbar::cli {

int cmd_convert(int argc, char** argv) {
  cxxopts::Options opt("xbar convert",
                       "Converts a TorchScript model (scripted or traced in PyTorch, no code changes): linear layers,\n"
                       "(grouped) conv1d/conv2d, products with a parameter, attention products (also inside PyTorch's\n"
                       "fused MultiheadAttention/TransformerEncoderLayer kernels) become xbar ops with per-layer\n"
                       "configs from the policy. Prints which nodes were converted and which stayed float, and why.\n"
                       "The output loads in C++ or in Python after torch.ops.load_library(\"libxbar_torch.so\").");
  opt.add_options()("model", "input TorchScript file (.pt)", cxxopts::value<std::string>())(
      "p,policy", "policy TOML (default config sections + [[override]] rules; see data/policies/)",
      cxxopts::value<std::string>())("o,out", "output TorchScript file", cxxopts::value<std::string>())(
      "calibrate", "program chip --chip and calibrate its ADC ranges on this task's training data (fashion_mnist "
      "or text); the saved model carries the ranges and their source", cxxopts::value<std::string>())(
      "data", "with --calibrate fashion_mnist: directory of IDX image data whose training images calibrate (as "
      "xbar train --data; default $XBAR_FASHION_MNIST or /usr/share/datasets/fashion-mnist), normalised as the model "
      "records, else with the mean and std of the data's training pixels", cxxopts::value<std::string>())(
      "chip", "chip to program with --calibrate", cxxopts::value<int64_t>()->default_value("0"))(
      "example-input", "measure each matrix product's share of the FLOPs on one forward of a random float input "
      "of this shape (e.g. 1,3,224,224): the report lists every product left in float with its share (operators "
      "it cannot count, e.g. mv, dot, conv3d, transposed convolutions, other einsums, as not measured) and ends "
      "with the fraction on arrays of the measured FLOPs", cxxopts::value<std::vector<int64_t>>())(
      "h,help", "show this help");
  add_calibration_options(opt);
  opt.parse_positional({"model"});
  const auto parsed = parse_or_help(opt, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& res = *parsed;
  require_options(res, opt, {"model", "policy", "out"}, "MODEL.pt, --policy and -o/--out");
  const Policy policy = load_policy(res["policy"].as<std::string>());
  const std::string in = res["model"].as<std::string>();
  refuse_alias(in, "MODEL.pt", res["out"].as<std::string>(), "--out");
  torch::jit::Module m = load_torchscript(in);
  require_float_model(m, in);
  std::vector<int64_t> shape;
  if (res.count("example-input")) shape = res["example-input"].as<std::vector<int64_t>>();
  for (int64_t d : shape)
    if (d < 1) throw InputError("--example-input: dimensions must be >= 1, got " + std::to_string(d));
  std::optional<Task> cal_task;
  if (res.count("calibrate")) cal_task = parse_enum<Task>("--calibrate", res["calibrate"].as<std::string>());
  if (res.count("data") && cal_task != Task::fashion_mnist)
    throw ConfigError("--data", res["data"].as<std::string>(), "applies to --calibrate fashion_mnist");
  const data::ImageData images = image_data_for(m, res.count("data") ? res["data"].as<std::string>() : data::default_image_dir());
  const ConvertReport rep = convert_module(m, policy, shape);
  std::cout << rep.table();
  if (cal_task) {
    const CalibrationSet cal = load_calibration_set(*cal_task, calibration_options(res), images);
    program_chip(m, res["chip"].as<int64_t>());
    if (calibrate(m, cal)) report_calibration(m, cal, true);
    else std::cout << "calibration: no layer has calibrated ADC ranges\n";
  }
  save_torchscript(m, res["out"].as<std::string>());
  std::cout << "wrote " << res["out"].as<std::string>() << "\n";
  return 0;
}

}  // namespace xbar::cli
