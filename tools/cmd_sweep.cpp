// xbar sweep STUDY.toml: grid over config keys x programmed chips, resumable results (CSV + HDF5).
#include <torch/script.h>
#include <unistd.h>

#include <cxxopts.hpp>
#include <iostream>

#include <ATen/Parallel.h>

#include "common/error.h"
#include "src/study/study.h"
#include "tools/commands.h"

namespace xbar::cli {

int cmd_sweep(int argc, char** argv) {
  cxxopts::Options opt("xbar sweep",
                       "Runs an accuracy-versus-precision study: every combination of the [grid] values (any config key,\n"
                       "e.g. \"adc.bits\" = [4, 6, 8], \"device.model\" = [\"pcm\", \"rram\"]) x study.repeats programmed chips.\n"
                       "Each point converts study.model with study.policy plus the grid values, programs chip = repeat and\n"
                       "evaluates the task. Results: study.output + .csv (appended per point) and .h5 (full config per\n"
                       "point); running again resumes where an interrupted run stopped. Plot: tools/plot_study.py.\n\n"
                       "Study file:\n"
                       "  [study]\n"
                       "  model = \"models/vit.pt\"       # TorchScript float model\n"
                       "  task = \"fashion_mnist\"        # fashion_mnist (accuracy %) or text (bits per character)\n"
                       "  policy = \"data/policies/default.toml\"\n"
                       "  output = \"results/vit_adc\"    # results path without extension\n"
                       "  repeats = 3                    # programmed chips per grid point (default 3)\n"
                       "  samples = 0                    # test images / validation characters, 0 = all (default 0)\n"
                       "  [grid]\n"
                       "  \"adc.bits\" = [4, 6, 8]");
  opt.add_options()("study", "study TOML file", cxxopts::value<std::string>())(
      "threads", "LibTorch and engine threads (count; 0 = all cores)", cxxopts::value<int>()->default_value("0"))(
      "stop-after", "stop after this many new points (count; 0 = run to the end)", cxxopts::value<int64_t>()->default_value("0"))(
      "h,help", "show this help");
  opt.parse_positional({"study"});
  auto res = opt.parse(argc, argv);
  if (res.count("help")) {
    std::cout << opt.help();
    return 0;
  }
  if (!res.count("study")) throw Error("a study file is required (see xbar sweep --help)");
  if (res["threads"].as<int>() > 0) at::set_num_threads(res["threads"].as<int>());
  const StudySpec s = load_study(res["study"].as<std::string>());
  StudyOptions o;
  o.progress = isatty(2);
  o.stop_after = res["stop-after"].as<int64_t>();
  run_study(s, o);
  std::cout << "results: " << s.output << ".csv, " << s.output << ".h5\n";
  return 0;
}

}  // namespace xbar::cli
