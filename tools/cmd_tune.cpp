// xbar tune: the cheapest per-layer converter precision within an accuracy-loss budget
// (apps/tune.h), resumable, with DIR/policy.toml, DIR/report and DIR/pareto.png.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cxxopts.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/error.h"
#include "apps/tune.h"
#include "calibration_options.h"
#include "cli_parse.h"
#include "commands.h"

namespace xbar::cli {

namespace {

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');) out.push_back(t);
  return out;
}

std::vector<double> parse_losses(const std::string& text) {
  std::vector<double> v;
  for (const auto& t : split_commas(text)) {
    size_t used = 0;
    double x = 0;
    try {
      x = std::stod(t, &used);
    } catch (const std::logic_error&) {
      used = 0;
    }
    if (t.empty() || used != t.size()) throw ConfigError("--max-loss", text, "expected numbers separated by commas, e.g. 0.5 or 0.5,0.25,1");
    v.push_back(x);
  }
  return v;
}

// DIR/pareto.png from DIR/pareto.csv with tools/plot_tune.py when the sources and Debian's Python are here.
void plot(const std::string& out) {
  const std::string script = std::string(XBAR_SOURCE_DIR) + "/tools/plot_tune.py";
  if (!std::filesystem::exists(script) || !std::filesystem::exists("/usr/bin/python3")) {
    std::printf("plot     /usr/bin/python3 tools/plot_tune.py %s\n", out.c_str());
    return;
  }
  const std::string cmd = "/usr/bin/python3 '" + script + "' '" + out + "' > /dev/null 2>&1";
  if (std::system(cmd.c_str()) == 0) std::printf("plot     %s/pareto.png\n", out.c_str());
  else std::printf("plot     failed: run /usr/bin/python3 tools/plot_tune.py %s\n", out.c_str());
}

}  // namespace

int cmd_tune(int argc, char** argv) {
  std::string knobs;
  for (const auto& k : tune_knobs()) knobs += (knobs.empty() ? "" : ", ") + k;
  cxxopts::Options opt(
      "xbar tune",
      "Finds the cheapest per-layer converter precision that keeps the task metric within --max-loss of the base\n"
      "policy's, priced by the cost model. The loss X per chip is read per task: fashion_mnist, accuracy points\n"
      "(base minus tuned accuracy on the same chip, default 0.5); text, percent of the base's bits per character (tuned minus\n"
      "base, divided by base, x 100; default 1).\n"
      "Every analog operator of the converted model is one tunable layer. A text model with a KV-cache decode\n"
      "method has two phases, tuned separately: prefill (the forward method: every character of each context\n"
      "window predicted at once) and decode (the decode method: the same windows generated token by token through\n"
      "the KV cache, bits per character of those predictions); each layer is then one unit per phase, the written\n"
      "overrides carry phase = \"prefill\" / \"decode\", and a schedule passes when both phases' bounds do.\n"
      "Knobs: adc.bits, dac.bits, mapping.weight_bits go one bit per step from the layer's base value down to\n"
      "--min-bits; dac.slice_bits (input bits per array read) and mapping.cell_bits (weight bits per cell) go up\n"
      "from a sliced base through every width that needs fewer reads / cells to 0 (one read / one cell).\n"
      "adc.range is not a knob: every range costs the same conversions (choose it with xbar eval --split heldout).\n\n"
      "Search (held-out part of the training data, never the test set; chips 0..chips-1; every candidate on the\n"
      "same chips and samples):\n"
      "  1. sensitivity: each layer and knob lowered alone, bit by bit, until its mean loss exceeds the budget;\n"
      "  2. greedy with verification: repeatedly the one-bit step with the largest objective saving per unit of\n"
      "     single-layer loss (steps without measured loss first) is applied and the whole schedule measured;\n"
      "     kept when the one-sided upper confidence bound of the paired per-chip loss,\n"
      "     mean + t(level, chips-1) sd / sqrt(chips), is <= the budget, else undone and that layer's knob frozen.\n"
      "     It starts from the cheapest uniform setting within the budget (below), else from the base.\n"
"Uniform settings (every layer the same value, every combination of knob values) are measured too; the\n"
      "cheapest passing one is the comparison. Base, tuned and that uniform setting are then re-measured on the\n"
      "test split and on --final-chips chips never used in the search.\n\n"
      "Objectives (per inference, cost model with --hardware): energy = inference energy (pJ; one-time weight\n"
      "programming excluded), latency (ns, layers in sequence), adc_energy = ADC conversions (pJ),\n"
      "converter_energy = ADC + DAC components of the cost table (pJ). With phases: per prompt character\n"
      "(prefill) plus per generated character (decode).\n\n"
      "Outputs in --out DIR: policy.toml (the base policy plus one [[override]] per tuned layer, for every other\n"
      "command), report (per layer: settings, sensitivity, objective before/after; totals; re-measurement),\n"
      "pareto.csv and pareto.png (metric vs objective: uniform settings, tuned schedules per budget, front),\n"
      "log.csv (every evaluated candidate and chip; a restarted run resumes from it and reaches the same schedule).");
  opt.add_options()("model", "TorchScript float model (.pt)", cxxopts::value<std::string>())(
      "policy", "base policy TOML (default: every stage ideal)", cxxopts::value<std::string>()->default_value(""))(
      "task", "one of: " + join_names(enum_names<Task>()), cxxopts::value<std::string>()->default_value("fashion_mnist"))(
      "data", "task fashion_mnist: directory of IDX image data (default $XBAR_FASHION_MNIST or /usr/share/datasets/fashion-mnist)",
      cxxopts::value<std::string>()->default_value(""))(
      "max-loss", "loss budget(s), comma-separated: accuracy points (fashion_mnist, default 0.5) or percent of the "
      "base's bits per character (text, default 1); the first writes policy.toml, all appear in the Pareto plot",
      cxxopts::value<std::string>()->default_value(""))(
      "objective", "what to minimise: " + join_names(enum_names<TuneObjective>()),
      cxxopts::value<std::string>()->default_value("converter_energy"))(
      "knobs", "config keys to tune, comma-separated, from: " + knobs, cxxopts::value<std::string>()->default_value("adc.bits,dac.bits"))(
      "min-bits", "lowest value any knob is tried at (bits)", cxxopts::value<int>()->default_value("3"))(
      "chips", "search chips (count, >= 2)", cxxopts::value<int>()->default_value("4"))(
      "final-chips", "fresh chips of the re-measurement (count, >= 2)", cxxopts::value<int>()->default_value("4"))(
      "samples", "held-out training samples of the search (0 = all): images, or for text characters (every "
      "whole context window of them is predicted by prefill and generated by decode; 1000 = 7 windows of 128)",
      cxxopts::value<int64_t>()->default_value("1000"))(
      "test-samples", "test samples of the re-measurement: images, or for text characters of the validation "
      "split (0 = all; default for text 2049 = 16 windows of 128)", cxxopts::value<int64_t>()->default_value("0"))(
      "confidence", "one-sided level of the loss bound: 0.90, 0.95 or 0.99", cxxopts::value<double>()->default_value("0.95"))(
      "no-uniform", "skip the uniform settings (no comparison, smaller Pareto plot)")(
      "hardware", "hardware description TOML of the cost model", 
      cxxopts::value<std::string>()->default_value(XBAR_SOURCE_DIR "/data/hardware/default.toml"))(
      "out", "output directory", cxxopts::value<std::string>())(
      "threads", "LibTorch and engine threads (count; 0 = all cores)", cxxopts::value<int>()->default_value("0"))(
      "stop-after", "stop after this many new candidate evaluations (count; 0 = run to the end)",
      cxxopts::value<int64_t>()->default_value("0"))(
      "no-plot", "do not draw pareto.png");
  add_calibration_options(opt);
  opt.add_options()("h,help", "show this help");
  const auto parsed = parse_or_help(opt, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& res = *parsed;
  require_options(res, opt, {"model", "out"});
  TuneSpec s;
  s.model = res["model"].as<std::string>();
  s.policy = res["policy"].as<std::string>();
  s.hardware = res["hardware"].as<std::string>();
  s.task = parse_enum<Task>("--task", res["task"].as<std::string>());
  s.data = res["data"].as<std::string>();
  const std::string losses = res["max-loss"].as<std::string>();
  s.max_loss = parse_losses(!losses.empty() ? losses : s.task == Task::text ? "1" : "0.5");
  s.objective = parse_enum<TuneObjective>("--objective", res["objective"].as<std::string>());
  s.knobs = split_commas(res["knobs"].as<std::string>());
  s.min_bits = res["min-bits"].as<int>();
  s.chips = res["chips"].as<int>();
  s.final_chips = res["final-chips"].as<int>();
  s.samples = res["samples"].as<int64_t>();
  s.test_samples = res["test-samples"].as<int64_t>();
  if (s.task == Task::text && res.count("test-samples") == 0) s.test_samples = 2049;  // decode of all 249k: hours
  s.confidence = res["confidence"].as<double>();
  s.compare_uniform = res.count("no-uniform") == 0;
  s.calibration = calibration_options(res);
  s.out = res["out"].as<std::string>();
  TuneOptions o;
  o.progress = isatty(2);
  o.threads = res["threads"].as<int>();
  if (o.threads < 0) throw ConfigError("--threads", std::to_string(o.threads), "must be >= 0");
  o.stop_after = res["stop-after"].as<int64_t>();
  const TuneSummary r = run_tune(s, o);
  if (!r.finished) {
    std::printf("stopped after %lld new evaluations; run again to resume (%s/log.csv)\n", (long long)o.stop_after,
                s.out.c_str());
    return 0;
  }
  std::ifstream rep(s.out + "/report");
  std::cout << rep.rdbuf() << "\npolicy   " << s.out << "/policy.toml\nreport   " << s.out << "/report\n";
  if (!res.count("no-plot")) plot(s.out);
  return 0;
}

}  // namespace xbar::cli
