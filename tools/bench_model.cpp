// xbar bench model: a float TorchScript model and its converted twin evaluated on the same data,
// interleaved in one process (float, analog, float, analog, ...), single-threaded; the ratio of
// median CPU times is the primary figure (wall time on a shared machine depends on other load,
// which is printed from /proc/loadavg). xbar bench eval-cost: the same converted model with the
// cost model's counting and table on and off, interleaved the same way.
#include "bench_model.h"

#include <omp.h>
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <Eigen/Core>
#include <cstdio>
#include <cstdlib>
#include <cxxopts.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "apps/hwa.h"
#include "bench_timing.h"
#include "cli_parse.h"
#include "common/error.h"
#include "config_options.h"
#include "ml/evaluate.h"
#include "ml/image_data.h"
#include "ml/train.h"
#include "torch/calibrate.h"
#include "torch/convert.h"
#include "torch/layer_state.h"
#include "torch/model_cost.h"

namespace xbar::cli {

bool is_model_bench(const std::string& what) { return what == "model" || what == "eval-cost"; }

namespace {

// Medians of interleaved timings of two evaluations of equal work (after one warm-up each).
struct Pair {
  double a_cpu = 0, b_cpu = 0, a_wall = 0, b_wall = 0;
  double ratio() const { return b_cpu / a_cpu; }
};

Pair interleaved(int reps, const std::function<void()>& a, const std::function<void()>& b) {
  a();
  b();
  std::vector<double> ac, bc, aw, bw;
  for (int r = 0; r < reps; ++r) {
    const Timing ta = time_once(a), tb = time_once(b);
    ac.push_back(ta.cpu);
    aw.push_back(ta.wall);
    bc.push_back(tb.cpu);
    bw.push_back(tb.wall);
  }
  return {median(ac), median(bc), median(aw), median(bw)};
}

struct Bench {
  std::string models_dir;
  Policy policy;
  std::string policy_name;
  int reps = 5;
  int64_t samples = 1000;
  int64_t decode_windows = 2;
  int64_t resnet_batch = 8;
  int64_t resnet_size = 224;
  int64_t hwa_steps = 20;
  std::vector<std::string> set;  // --set assignments (HWA takes them as options)
};

// The converted twin of `path` on chip 0, drifted to the policy's time and calibrated when its ADC
// ranges are calibrated (on the training samples of `data`).
torch::jit::Module converted(const std::string& path, const Policy& p, const EvalData& data) {
  torch::jit::Module m = load_torchscript(path);
  convert_module(m, p);
  program_chip(m, 0);
  drift_model(m, p.defaults.run.t_inference_s);
  calibrate(m, data.calibration);
  return m;
}

void print_line(const char* name, const std::string& policy, const char* unit, double per_s, const Pair& t) {
  std::printf("bench model %s %s ratio %.3f %s %.1f cpu_seconds %.4f float_cpu_seconds %.4f wall_ratio %.3f\n", name,
              policy.c_str(), t.ratio(), unit, per_s, t.b_cpu, t.a_cpu, t.b_wall / t.a_wall);
  std::fflush(stdout);
}

void bench_classifier(const Bench& b, const char* name) {
  const std::string path = b.models_dir + "/" + name + ".pt";
  const EvalData data = load_eval_data(Task::fashion_mnist, b.samples, 0);
  torch::jit::Module fm = load_torchscript(path), m = converted(path, b.policy, data);
  fm.eval();
  const Pair t = interleaved(b.reps, [&] { evaluate(fm, data); }, [&] { evaluate(m, data); });
  print_line(name, b.policy_name, "images_per_s", double(eval_inferences(m, data)) / t.b_cpu, t);
}

void bench_gpt(const Bench& b) {
  const std::string path = b.models_dir + "/gpt.pt";
  const EvalData data = load_eval_data(Task::text, b.samples, 0);
  torch::jit::Module fm = load_torchscript(path), m = converted(path, b.policy, data);
  fm.eval();
  const Pair p = interleaved(b.reps, [&] { evaluate(fm, data); }, [&] { evaluate(m, data); });
  print_line("gpt_prefill", b.policy_name, "tokens_per_s", double(eval_inferences(m, data)) / p.b_cpu, p);
  const Pair d = interleaved(b.reps, [&] { evaluate_decode(fm, data, b.decode_windows); },
                             [&] { evaluate_decode(m, data, b.decode_windows); });
  print_line("gpt_decode", b.policy_name, "tokens_per_s", double(decode_inferences(m, data, b.decode_windows)) / d.b_cpu,
             d);
}

// torchvision's ResNet-18 (random weights), scripted by tools/make_resnet18.py; random images.
void bench_resnet18(const Bench& b) {
  const std::string path = (std::filesystem::temp_directory_path() / "xbar_bench_resnet18.pt").string();
  if (!std::filesystem::exists(path)) {
    const std::string cmd = "/usr/bin/python3 " XBAR_SOURCE_DIR "/tools/make_resnet18.py " + path;
    if (std::system(cmd.c_str()) != 0 || !std::filesystem::exists(path)) {
      std::printf("bench model resnet18 skipped: %s failed (torchvision missing?)\n", cmd.c_str());
      return;
    }
  }
  at::manual_seed(0);
  const at::Tensor x = at::rand({b.resnet_batch, 3, b.resnet_size, b.resnet_size});
  torch::jit::Module fm = load_torchscript(path), m = load_torchscript(path);
  fm.eval();
  try {
    convert_module(m, b.policy);
  } catch (const std::exception& e) {
    std::printf("bench model resnet18 skipped: conversion failed: %s\n", e.what());
    return;
  }
  m.eval();
  program_chip(m, 0);
  drift_model(m, b.policy.defaults.run.t_inference_s);
  at::NoGradGuard ng;
  if (needs_calibration(m)) calibrate_module(m, x, "random images (benchmark)");
  const Pair t = interleaved(b.reps, [&] { fm.forward({x}); }, [&] { m.forward({x}); });
  print_line("resnet18", b.policy_name, "images_per_s", double(b.resnet_batch) / t.b_cpu, t);
}

// HWA step over a float training step of the same model (batch 64): whole runs of apps/hwa's
// train_hwa and ml/train's train_classifier over n and 2n steps, interleaved; the difference of
// the two lengths cancels the fixed parts (loading, conversion, the epoch-end evaluation, export),
// leaving n steps of each.
void bench_hwa_step(const Bench& b, const std::string& policy_path) {
  const std::string model = b.models_dir + "/cnn.pt";
  const int64_t batch = 64, n = b.hwa_steps;
  const data::ImageSet train = data::load_images(data::ImageData{}, "train");
  const std::string dir = (std::filesystem::temp_directory_path() / "xbar_bench_hwa").string();
  int run = 0;
  auto hwa = [&](int64_t steps) {
    HwaOptions o;
    o.model = model;
    o.policy = policy_path;
    o.set = b.set;
    o.out = dir + std::to_string(run++);
    std::filesystem::remove_all(o.out);
    o.epochs = 1;
    o.batch = batch;
    o.max_examples = steps * batch;
    o.eval_samples = 100;
    o.test_samples = 100;  // the final test is timed in every run: keep it small (the difference cancels it)
    o.eval_chips = 1;
    o.progress = false;
    train_hwa(o);
    std::filesystem::remove_all(o.out);
  };
  auto flt = [&](int64_t steps) {
    torch::jit::Module m = load_torchscript(model);
    models::TrainOptions o;
    o.epochs = 1;
    o.batch = batch;
    o.max_examples = steps * batch;
    o.progress = false;
    models::train_classifier(m, train, "cnn", o);
  };
  std::vector<double> h1, h2, f1, f2;
  hwa(n);  // warm-up
  flt(n);
  for (int r = 0; r < b.reps; ++r) {
    h1.push_back(time_once([&] { hwa(n); }).cpu);
    f1.push_back(time_once([&] { flt(n); }).cpu);
    h2.push_back(time_once([&] { hwa(2 * n); }).cpu);
    f2.push_back(time_once([&] { flt(2 * n); }).cpu);
  }
  const double hs = (median(h2) - median(h1)) / double(n), fs = (median(f2) - median(f1)) / double(n);
  std::printf("bench model hwa_step_cnn %s ratio %.3f hwa_step_seconds %.5f float_step_seconds %.5f batch %lld\n",
              b.policy_name.c_str(), hs / fs, hs, fs, static_cast<long long>(batch));
  std::fflush(stdout);
}

void set_counting(const torch::jit::Module& m, bool on) {
  for (const auto& l : xbar_layers(m)) l->count_events(on);
}

// Whole evaluation with the cost counters and the cost table against the same without both.
void bench_eval_cost(const Bench& b, const std::string& name, const Hardware& hw) {
  const bool text = name == "gpt";
  const std::string path = b.models_dir + "/" + name + ".pt";
  const EvalData data = load_eval_data(text ? Task::text : Task::fashion_mnist, b.samples, 0);
  torch::jit::Module on = converted(path, b.policy, data), off = converted(path, b.policy, data);
  set_counting(off, false);
  size_t table_chars = 0;
  const Pair t = interleaved(
      b.reps, [&] { evaluate(off, data); },
      [&] {
        const std::vector<LayerCounters> before = model_counters(on);
        evaluate(on, data);
        const auto rows = model_cost_rows(on, hw, before, double(eval_inferences(on, data)));
        table_chars += cost_table(rows, text ? "prompt token (prefill)" : "image").size();
      });
  std::printf("bench eval-cost %s %s ratio %.4f cpu_seconds %.4f without_cost %.4f wall_ratio %.4f\n", name.c_str(),
              b.policy_name.c_str(), t.ratio(), t.b_cpu, t.a_cpu, t.b_wall / t.a_wall);
  std::fflush(stdout);
  if (table_chars == 0) throw Error("bench eval-cost: empty cost table");
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t a = 0;
  while (a <= s.size()) {
    const size_t c = s.find(',', a);
    out.push_back(s.substr(a, c == std::string::npos ? std::string::npos : c - a));
    if (c == std::string::npos) break;
    a = c + 1;
  }
  return out;
}

}  // namespace

int cmd_bench_model(int argc, char** argv) {
  const std::string what = argv[1];
  cxxopts::Options opt("xbar bench " + what,
                       "xbar bench model: each model's float TorchScript file and its converted twin evaluated on the "
                       "same data, interleaved in one process, single-threaded; lines `bench model <name> <policy> ratio "
                       "<x> images_per_s <y>` (x: median CPU time of the converted over the float evaluation). "
                       "gpt: prefill (per predicted token) and decode (per generated token); resnet18: torchvision's, "
                       "random weights and images; hwa_step: a noise-aware training step of the CNN over a float one "
                       "(apps/hwa, ml/train; batch 64). xbar bench eval-cost: a whole evaluation with the cost counters and "
                       "table over the same without (same converted model and chip).");
  opt.add_options()("what", "model or eval-cost", cxxopts::value<std::string>())(
      "models", "comma-separated: cnn, vit, gpt, resnet18, hwa_step (eval-cost: cnn, vit, gpt)",
      cxxopts::value<std::string>()->default_value(what == "model" ? "cnn,vit,gpt,resnet18,hwa_step" : "cnn,gpt"))(
      "models-dir", "folder of the .pt files", cxxopts::value<std::string>()->default_value(XBAR_SOURCE_DIR "/data/models"))(
      "policy", "policy TOML", cxxopts::value<std::string>()->default_value(XBAR_SOURCE_DIR "/data/policies/default.toml"))(
      "set", "override a key of the policy's default, e.g. --set device.read_noise_scale=0 (repeatable)",
      cxxopts::value<std::vector<std::string>>())(
      "hardware", "hardware TOML priced by eval-cost",
      cxxopts::value<std::string>()->default_value(XBAR_SOURCE_DIR "/data/hardware/default.toml"))(
      "samples", "test images / validation characters per evaluation (count)", cxxopts::value<int64_t>()->default_value("1000"))(
      "decode-windows", "gpt decode: context windows generated token by token (count)",
      cxxopts::value<int64_t>()->default_value("2"))(
      "resnet-batch", "resnet18: images per forward (count)", cxxopts::value<int64_t>()->default_value("8"))(
      "resnet-size", "resnet18: image side (pixels)", cxxopts::value<int64_t>()->default_value("224"))(
      "hwa-steps", "hwa_step: steps of the shorter run (count)", cxxopts::value<int64_t>()->default_value("20"))(
      "reps", "timed repetitions of each side; medians are reported (count)", cxxopts::value<int>()->default_value("5"))(
      "h,help", "show this help");
  opt.parse_positional({"what"});
  const auto parsed = parse_or_help(opt, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& res = *parsed;
  // Single-threaded: LibTorch, OpenMP (the engine's work items) and Eigen.
  at::set_num_threads(1);
  omp_set_num_threads(1);
  Eigen::setNbThreads(1);
  Bench b;
  b.models_dir = res["models-dir"].as<std::string>();
  const std::string policy_path = res["policy"].as<std::string>();
  b.policy = load_policy(policy_path);
  apply_set_options(b.policy.defaults, res);
  b.policy.defaults.validate();
  b.policy_name = std::filesystem::path(policy_path).stem().string();
  if (res.count("set")) b.set = res["set"].as<std::vector<std::string>>();
  for (const auto& kv : b.set) b.policy_name += "[" + kv + "]";
  b.hwa_steps = std::max<int64_t>(1, res["hwa-steps"].as<int64_t>());
  b.reps = std::max(1, res["reps"].as<int>());
  b.samples = res["samples"].as<int64_t>();
  b.decode_windows = res["decode-windows"].as<int64_t>();
  b.resnet_batch = res["resnet-batch"].as<int64_t>();
  b.resnet_size = res["resnet-size"].as<int64_t>();
  std::printf("bench %s threads 1 loadavg %s\n", what.c_str(), load_average().c_str());
  const Hardware hw = load_hardware(res["hardware"].as<std::string>());
  for (const std::string& name : split_commas(res["models"].as<std::string>())) {
    if (what == "eval-cost") {
      if (name != "cnn" && name != "vit" && name != "gpt") throw Error("bench eval-cost: unknown model '" + name + "'");
      bench_eval_cost(b, name, hw);
    } else if (name == "cnn" || name == "vit") {
      bench_classifier(b, name.c_str());
    } else if (name == "gpt") {
      bench_gpt(b);
    } else if (name == "resnet18") {
      bench_resnet18(b);
    } else if (name == "hwa_step") {
      bench_hwa_step(b, policy_path);
    } else {
      throw Error("bench model: unknown model '" + name + "' (cnn, vit, gpt, resnet18, hwa_step)");
    }
  }
  std::printf("bench %s done loadavg %s\n", what.c_str(), load_average().c_str());
  return 0;
}

}  // namespace xbar::cli
