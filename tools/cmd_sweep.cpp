// xbar sweep STUDY.toml: grid over config keys x programmed chips, resumable results (CSV + HDF5);
// single process, one shard (--shard K/N), or spread over MPI ranks (mpirun -n N xbar sweep).
#include <unistd.h>

#include <algorithm>
#include <cxxopts.hpp>
#include <iostream>
#include <thread>
#include <tuple>

#include "common/error.h"
#include "apps/mpi_runner.h"
#include "apps/study.h"
#include "cli_parse.h"
#include "commands.h"

namespace xbar::cli {

namespace {

// "K/N" with 0 <= K < N.
std::pair<int, int> parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  try {
    size_t a = 0, b = 0;
    if (slash != std::string::npos) {
      const int k = std::stoi(text.substr(0, slash), &a), n = std::stoi(text.substr(slash + 1), &b);
      if (a == slash && b == text.size() - slash - 1 && n >= 1 && k >= 0 && k < n) return {k, n};
    }
  } catch (const std::logic_error&) {
  }
  throw ConfigError("--shard", text, "expected K/N with integers 0 <= K < N (e.g. 0/4)");
}

int sweep(int argc, char** argv) {
  cxxopts::Options opt("xbar sweep",
                       "Runs an accuracy-versus-precision study: every combination of the [grid] values (any config key,\n"
                       "e.g. \"adc.bits\" = [4, 6, 8], \"device.model\" = [\"pcm\", \"rram\"]) x study.repeats programmed chips.\n"
                       "Each point converts study.model with study.policy plus the grid values, programs chip = repeat and\n"
                       "evaluates the task. Results: study.output + .csv (appended per point) and .h5 (rows sorted by index;\n"
                       "full config, run.seed, chip, device file and model sha256, policy text and xbar version per file, so\n"
                       "`xbar rerun` reproduces any point); running again resumes where an interrupted run stopped.\n"
                       "Plot: tools/plot_study.py.\n\n"
                       "On a cluster:\n"
                       "  mpirun -n N xbar sweep STUDY.toml     rank 0 hands out points one at a time, costliest first\n"
                       "      (cost = ADC conversions per weight from the point's config: input slices x weight slices x\n"
                       "      arrays per slice x 256/tile_rows; ties in definition order) and writes the one results\n"
                       "      file; rank 0 also evaluates on a second thread. A killed run resumes under MPI or not.\n"
                       "  xbar sweep STUDY.toml --shard K/N     only points with index % N == K, into\n"
                       "      OUTPUT.shardK-of-N.{csv,h5} (job arrays without MPI); then `xbar merge OUTPUT SHARD...`.\n\n"
                       "Study file:\n"
                       "  [study]\n"
                       "  model = \"data/models/vit.pt\"       # TorchScript float model\n"
                       "  task = \"fashion_mnist\"        # fashion_mnist (accuracy %) or text (bits per character)\n"
                       "  policy = \"data/policies/default.toml\"\n"
                       "  output = \"results/vit_adc\"    # results path without extension\n"
                       "  repeats = 3                    # programmed chips per grid point (default 3)\n"
                       "  samples = 0                    # test images / validation characters, 0 = all (default 0)\n"
                       "  [grid]\n"
                       "  \"adc.bits\" = [4, 6, 8]");
  opt.add_options()("study", "study TOML file", cxxopts::value<std::string>())(
      "threads",
      "LibTorch and engine threads per evaluating process (count; 0 = all cores, under MPI cores / ranks on the node)",
      cxxopts::value<int>()->default_value("0"))(
      "shard", "evaluate only points with index % N == K, into OUTPUT.shardK-of-N (K/N; default: all points)",
      cxxopts::value<std::string>())(
      "stop-after", "stop after this many new points (count; 0 = run to the end)", cxxopts::value<int64_t>()->default_value("0"))(
      "data", "task fashion_mnist: directory of IDX image data (as xbar train --data; overrides the study's `data` key; "
      "default $XBAR_FASHION_MNIST or /usr/share/datasets/fashion-mnist)", cxxopts::value<std::string>())(
      "h,help", "show this help");
  opt.parse_positional({"study"});
  auto res = opt.parse(argc, argv);
  if (res.count("help")) {
    if (mpi::rank() == 0) std::cout << opt.help() << "\nMPI: " << (mpi::built() ? "built in" : "not built") << "\n";
    return 0;
  }
  require_options(res, opt, {"study"}, "a study file");
  StudySpec s = load_study(res["study"].as<std::string>());
  if (res.count("data")) use_image_data(s, res["data"].as<std::string>());
  StudyOptions o;
  o.progress = isatty(2) && mpi::rank() == 0;
  o.stop_after = res["stop-after"].as<int64_t>();
  o.threads = res["threads"].as<int>();
  if (o.threads < 0) throw ConfigError("--threads", std::to_string(o.threads), "must be >= 0");
  if (o.threads == 0 && mpi::active())
    o.threads = std::max(1, int(std::thread::hardware_concurrency()) / mpi::ranks_on_node());
  if (res.count("shard")) std::tie(o.shard_k, o.shard_n) = parse_shard(res["shard"].as<std::string>());
  run_study(s, o);
  if (mpi::rank() == 0) std::cout << "results: " << results_base(s, o) << ".csv, " << results_base(s, o) << ".h5\n";
  return 0;
}

}  // namespace

int cmd_sweep(int argc, char** argv) {
  mpi::init_if_launched(&argc, &argv);
  int rc = 0;
  if (!mpi::active()) {
    rc = sweep(argc, argv);
  } else {
    try {
      rc = sweep(argc, argv);
    } catch (const std::exception& e) {
      mpi::abort(std::string("xbar sweep: ") + e.what(), 2);  // one rank's error ends every rank
    }
  }
  mpi::finalize();
  return rc;
}

}  // namespace xbar::cli
