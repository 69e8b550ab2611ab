// xbar train --hwa: hardware-aware retraining of a float classifier through the crossbar emulation.
#include <torch/script.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <cstdlib>
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>
#include <unistd.h>

#include "common/error.h"
#include "apps/hwa.h"
#include "cli_parse.h"
#include "commands.h"

namespace xbar::cli {

namespace {
// Draws the training curve with tools/plot_training.py when the sources and Debian's Python are here.
void plot(const std::string& out) {
  const std::string script = std::string(XBAR_SOURCE_DIR) + "/tools/plot_training.py";
  if (!std::filesystem::exists(script) || !std::filesystem::exists("/usr/bin/python3")) {
    std::printf("plot       /usr/bin/python3 tools/plot_training.py %s\n", out.c_str());
    return;
  }
  const std::string cmd = "/usr/bin/python3 '" + script + "' '" + out + "' > /dev/null 2>&1";
  if (std::system(cmd.c_str()) == 0) std::printf("plot       %s/training.png\n", out.c_str());
  else std::printf("plot       failed: run /usr/bin/python3 tools/plot_training.py %s\n", out.c_str());
}
}  // namespace

int cmd_train_hwa(int argc, char** argv) {
  HwaOptions d;
  cxxopts::Options opt(
      "xbar train --hwa",
      "Hardware-aware retraining of a float TorchScript Fashion-MNIST classifier (any model: xbar convert's\n"
      "graph rewriting puts every linear, conv and attention product on the chip). Each step programs a fresh\n"
      "chip (programming noise at the weights' own conductances, faults, drift to --t-train, read noise), reads\n"
      "through DAC and ADC with straight-through gradients, then clips the weights; input (DAC) ranges are\n"
      "learned per layer. Every epoch evaluates the weights exactly and on --eval-chips chips (chips 0.., as\n"
      "xbar eval) and writes a checkpoint: running the same command again resumes an interrupted run.\n"
      "Writes to --out: train_log.csv, epochs.csv, training.png, checkpoint.pt and, when done, model.pt (plain\n"
      "TorchScript), policy.toml (the policy with the learned ranges) and model_analog.pt (converted with it).");
  opt.add_options()("hwa", "hardware-aware training (this mode)")(
      "model", "float TorchScript classifier (.pt)", cxxopts::value<std::string>())(
      "policy", "policy TOML (default: every stage ideal)", cxxopts::value<std::string>()->default_value(""))(
      "device", "HDF5 device file: sets device.model = file for every operator", cxxopts::value<std::string>()->default_value(""))(
      "set", "override a key of the policy's default config, e.g. --set adc.bits=6 (repeatable)",
      cxxopts::value<std::vector<std::string>>())(
      "out", "output directory (path)", cxxopts::value<std::string>())(
      "epochs", "passes over the training set (count)", cxxopts::value<int>()->default_value(std::to_string(d.epochs)))(
      "batch", "images per step (count)", cxxopts::value<int64_t>()->default_value(std::to_string(d.batch)))(
      "lr", "peak Adam learning rate of the weights (1; warm-up, cosine decay to 10%)",
      cxxopts::value<double>()->default_value("0.0005"))(
      "range-lr", "peak Adam learning rate of the input ranges (input units)", cxxopts::value<double>()->default_value("0.01"))(
      "seed", "data order and training-chip noise (integer)", cxxopts::value<uint64_t>()->default_value("1"))(
      "t-train", "drift time of the training chips (s; default: the policy's run.t_inference_s)", cxxopts::value<double>())(
      "no-read-noise", "train without read noise (programming noise and drift stay)")(
      "clip", "weight clipping after each step: none, fixed (|w| <= clip-value) or sigma (|w| <= clip-value x the "
      "layer's weight std)", cxxopts::value<std::string>()->default_value(enum_name(d.clip)))(
      "clip-value", "clipping bound (weight units for fixed, multiples of the std for sigma)",
      cxxopts::value<double>()->default_value("2.5"))(
      "fixed-ranges", "keep the policy's DAC ranges (do not learn input ranges)")(
      "eval-samples", "test images of the per-epoch evaluation (count; 0 = all)",
      cxxopts::value<int64_t>()->default_value(std::to_string(d.eval_samples)))(
      "eval-chips", "chips of the per-epoch evaluation (count)", cxxopts::value<int>()->default_value(std::to_string(d.eval_chips)))(
      "max-examples", "train on the first N training images only (count; 0 = all)", cxxopts::value<int64_t>()->default_value("0"))(
      "stop-after-epochs", "end this run after N epochs; the same command resumes (count; 0 = to the end)",
      cxxopts::value<int>()->default_value("0"))(
      "threads", "LibTorch and engine threads (count)", cxxopts::value<int>()->default_value("2"))(
      "no-progress", "no progress bar on stderr")("h,help", "show this help");
  const auto parsed = parse_or_help(opt, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& res = *parsed;
  require_options(res, opt, {"model", "out"});
  const int threads = res["threads"].as<int>();
  if (threads < 1) throw ConfigError("--threads", std::to_string(threads), "must be >= 1");
  at::set_num_threads(threads);
  HwaOptions o;
  o.model = res["model"].as<std::string>();
  o.policy = res["policy"].as<std::string>();
  o.device = res["device"].as<std::string>();
  if (res.count("set")) o.set = res["set"].as<std::vector<std::string>>();
  o.out = res["out"].as<std::string>();
  o.epochs = res["epochs"].as<int>();
  o.batch = res["batch"].as<int64_t>();
  o.lr = res["lr"].as<double>();
  o.range_lr = res["range-lr"].as<double>();
  o.seed = res["seed"].as<uint64_t>();
  if (res.count("t-train")) o.t_train_s = res["t-train"].as<double>();
  o.read_noise = !res.count("no-read-noise");
  o.clip = parse_enum<WeightClip>("--clip", res["clip"].as<std::string>());
  o.clip_value = res["clip-value"].as<double>();
  o.learn_ranges = !res.count("fixed-ranges");
  o.eval_samples = res["eval-samples"].as<int64_t>();
  o.eval_chips = res["eval-chips"].as<int>();
  o.max_examples = res["max-examples"].as<int64_t>();
  o.stop_after_epochs = res["stop-after-epochs"].as<int>();
  o.progress = !res.count("no-progress") && isatty(2);
  const HwaResult r = train_hwa(o);
  std::printf("epoch  step   train_loss  float_acc  chip_acc (mean +- std over %d chips)\n", o.eval_chips);
  for (const auto& e : r.epochs)
    std::printf("%5d %6lld %11.4f %9.2f%% %9.2f%% +- %.2f\n", e.epoch, (long long)e.step, e.train_loss, e.float_acc,
                e.chip_acc, e.chip_acc_std);
  plot(o.out);
  if (!r.finished) {
    std::printf("stopped    after %zu of %d epochs; run the same command to resume\n", r.epochs.size(), o.epochs);
    return 0;
  }
  std::printf("saved      %s/model.pt (float), %s/policy.toml, %s/model_analog.pt (converted)\n", o.out.c_str(),
              o.out.c_str(), o.out.c_str());
  return 0;
}

}  // namespace xbar::cli
