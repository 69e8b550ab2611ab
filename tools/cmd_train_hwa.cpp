// xbar train --hwa: hardware-aware retraining of a float model (image classifier or character GPT)
// through the crossbar emulation.
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
      "Hardware-aware retraining of a float TorchScript model: an image classifier (IDX data, --data; default\n"
      "Fashion-MNIST) or the character GPT (task text: fortunes, bits per character), by its xbar_task\n"
      "attribute (xbar convert's graph rewriting puts every linear, conv and attention product on the chip).\n"
      "Each step programs a fresh chip (programming noise at the weights' own conductances, faults, drift to\n"
      "--t-train, read noise), reads through DAC and ADC with straight-through gradients, then clips the\n"
      "weights; input (DAC) ranges are learned per layer. Training uses the training data without its\n"
      "held-out part (the last 5,000 training images, or 10% below 50,000; text: the last 10% of the training\n"
      "characters); every epoch evaluates the weights exactly and on --eval-chips chips (chips 0.., as xbar\n"
      "eval) on that held-out validation part and writes a checkpoint: running the same command again resumes\n"
      "an interrupted run. The test set is evaluated once, at the end, on the exported model. Start from an\n"
      "untrained network with xbar train --init-only. Writes to --out: train_log.csv, epochs.csv (validation),\n"
      "training.png, checkpoint.pt and, when done, test.csv, model.pt (plain TorchScript), policy.toml (the\n"
      "policy with the learned ranges) and model_analog.pt (converted with it).");
  opt.add_options()("hwa", "hardware-aware training (this mode)")(
      "model", "float TorchScript model (.pt): a zoo classifier or gpt, or any model with one input", cxxopts::value<std::string>())(
      "data", "image classifiers: directory of IDX image data (as xbar train --data; default $XBAR_FASHION_MNIST "
      "or /usr/share/datasets/fashion-mnist)", cxxopts::value<std::string>()->default_value(""))(
      "policy", "policy TOML (default: every stage ideal)", cxxopts::value<std::string>()->default_value(""))(
      "device", "HDF5 device file: sets device.model = file for every operator", cxxopts::value<std::string>()->default_value(""))(
      "set", "override a key of the policy's default config, e.g. --set adc.bits=6 (repeatable)",
      cxxopts::value<std::vector<std::string>>())(
      "out", "output directory (path)", cxxopts::value<std::string>())(
      "epochs", "passes over the training data (count; text: training characters / (batch x context) steps)", cxxopts::value<int>()->default_value(std::to_string(d.epochs)))(
      "batch", "images (text: windows of context characters) per step (count)", cxxopts::value<int64_t>()->default_value(std::to_string(d.batch)))(
      "lr", "peak Adam learning rate of the weights (1)", cxxopts::value<double>()->default_value("0.0005"))(
      "lr-schedule", "cosine (linear warm-up over 5% of the steps, cosine decay to 10% of the peak) or constant",
      cxxopts::value<std::string>()->default_value("cosine"))(
      "range-lr", "peak Adam learning rate of the input ranges (input units)", cxxopts::value<double>()->default_value("0.01"))(
      "seed", "data order and training-chip noise (integer)", cxxopts::value<uint64_t>()->default_value("1"))(
      "t-train", "drift time of the training chips (s; default: the policy's run.t_inference_s)", cxxopts::value<double>())(
      "no-read-noise", "train without read noise (programming noise and drift stay)")(
      "clip", "weight clipping after each step: none, fixed (|w| <= clip-value) or sigma (|w| <= clip-value x the "
      "layer's weight std)", cxxopts::value<std::string>()->default_value(enum_name(d.clip)))(
      "clip-value", "clipping bound (weight units for fixed, multiples of the std for sigma)",
      cxxopts::value<double>()->default_value("2.5"))(
      "fixed-ranges", "keep the policy's DAC ranges (do not learn input ranges)")(
      "eval-samples", "held-out images / characters of the per-epoch validation (count; 0 = all)",
      cxxopts::value<int64_t>()->default_value(std::to_string(d.eval_samples)))(
      "test-samples", "test images / validation characters of the final test (count; 0 = all)",
      cxxopts::value<int64_t>()->default_value("0"))(
      "eval-chips", "chips of the per-epoch validation and the final test (count)", cxxopts::value<int>()->default_value(std::to_string(d.eval_chips)))(
      "max-examples", "examples per epoch: the first N training images / N windows (count; 0 = all)", cxxopts::value<int64_t>()->default_value("0"))(
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
  o.data = res["data"].as<std::string>();
  o.schedule = parse_enum<models::LrSchedule>("--lr-schedule", res["lr-schedule"].as<std::string>());
  o.test_samples = res["test-samples"].as<int64_t>();
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
  std::printf("data       %s\n", r.data.c_str());
  std::printf("validation %s on held-out training data (chip: mean +- std over %d chips)\n", r.metric.c_str(), o.eval_chips);
  std::printf("epoch  step   train_loss      float       chip\n");
  for (const auto& e : r.epochs)
    std::printf("%5d %6lld %11.4f %10.3f %10.3f +- %.3f\n", e.epoch, (long long)e.step, e.train_loss,
                e.valid.float_value, e.valid.chip_mean, e.valid.chip_std);
  plot(o.out);
  if (!r.finished) {
    std::printf("stopped    after %zu of %d epochs; run the same command to resume\n", r.epochs.size(), o.epochs);
    return 0;
  }
  std::printf("test       %s %s: float %.3f, chip %.3f +- %.3f (%d chips)\n", r.test_data.c_str(), r.metric.c_str(),
              r.test.float_value, r.test.chip_mean, r.test.chip_std, o.eval_chips);
  std::printf("saved      %s/model.pt (float), %s/policy.toml, %s/model_analog.pt (converted)\n", o.out.c_str(),
              o.out.c_str(), o.out.c_str());
  return 0;
}

}  // namespace xbar::cli
