// xbar bench engine: cost of the engine's read relative to a plain float GEMM of the same size,
// measured side by side in one run (median of repeated timings).
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cxxopts.hpp>
#include <functional>
#include <iostream>

#include "engine/analog_layer.h"
#include "bench_model.h"
#include "bench_timing.h"
#include "cli_parse.h"
#include "commands.h"

namespace xbar::cli {

namespace {

double median_seconds(int reps, const std::function<void()>& f) {
  f();  // warm-up
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) t.push_back(time_once(f).wall);
  return median(t);
}

// The configurations both benchmarks time: name, setup, float GEMMs of equal work.
struct BenchCase {
  const char* name;
  std::function<void(XbarConfig&)> setup;
  double gemms;
};

std::vector<BenchCase> bench_cases() {
  auto dac_adc_prog = [](XbarConfig& c) {
    c.dac.bits = 8;
    c.adc.bits = 8;
    c.device.model = DeviceKind::pcm;
    c.device.read_noise_scale = 0;
  };
  return {
      {"ideal", [](XbarConfig&) {}, 1},
      {"dac_adc_prog", dac_adc_prog, 1},
      {"dac_adc_prog_read",
       [=](XbarConfig& c) {
         dac_adc_prog(c);
         c.device.read_noise_scale = 1;
       },
       1},
      {"bitserial",
       [](XbarConfig& c) {
         c.dac.bits = 9;  // sign + 8 magnitude bits, fed as 8 one-bit slices
         c.dac.slice_bits = 1;
         c.mapping.weight_bits = 5;  // sign + 4 magnitude bits in 2 slices of 2 bits
         c.mapping.cell_bits = 2;
         c.adc.bits = 8;
       },
       16},
  };
}

// Read time with the cost events counted over the same read without, timed interleaved on two
// identical layers (median of reps).
int bench_cost(int batch, int n, int tile, int reps) {
  const RowMatrixXf W = RowMatrixXf::Random(n, n), X = RowMatrixXf::Random(batch, n);
  for (const BenchCase& bc : bench_cases()) {
    XbarConfig cfg;
    cfg.mapping.tile_rows = cfg.mapping.tile_cols = tile;
    bc.setup(cfg);
    AnalogLayer with(cfg), without(cfg);
    without.count_events(false);
    with.program(W);
    without.program(W);
    std::vector<double> tw, to;
    RowMatrixXf Y;
    for (int r = 0; r < reps; ++r) {
      Y = without.read(X);
      to.push_back(time_once([&] { Y = without.read(X); }).cpu);
      Y = with.read(X);
      tw.push_back(time_once([&] { Y = with.read(X); }).cpu);
    }
    std::printf("bench cost %s ratio %.4f cpu_seconds %.5f without_counting %.5f\n", bc.name, median(tw) / median(to),
                median(tw), median(to));
    std::fflush(stdout);
  }
  return 0;
}

int bench_engine(int batch, int n, int tile, int reps) {
  const int threads = omp_get_max_threads();
  RowMatrixXf W = RowMatrixXf::Random(n, n), X = RowMatrixXf::Random(batch, n);
  RowMatrixXf Y(batch, n);
  const double gemm = median_seconds(reps, [&] {
    Eigen::setNbThreads(threads);
    Y.noalias() = X * W.transpose();
  });
  std::printf("bench gemm %dx%dx%d seconds %.5f threads %d loadavg %s\n", batch, n, n, gemm, threads,
              load_average().c_str());

  auto run_case = [&](const char* name, const std::function<void(XbarConfig&)>& setup, double gemms) {
    XbarConfig cfg;
    cfg.mapping.tile_rows = cfg.mapping.tile_cols = tile;
    setup(cfg);
    AnalogLayer layer(cfg);
    layer.program(W);
    // The GEMM is timed again right beside each case (interleaved), so machine drift between
    // cases does not enter the ratio.
    // Each is timed on its second consecutive call (warm caches), as median_seconds does.
    std::vector<double> tg, tc, cg, cc;
    const auto gemm_once = [&] {
      Eigen::setNbThreads(threads);
      Y.noalias() = X * W.transpose();
    };
    const auto gemm1_once = [&] {
      Eigen::setNbThreads(1);
      Y.noalias() = X * W.transpose();
    };
    const auto read_once = [&] { Y = layer.read(X); };
    for (int r = 0; r < reps; ++r) {
      gemm_once();
      const Timing g = time_once(gemm_once);
      gemm1_once();
      const Timing g1 = time_once(gemm1_once);
      read_once();
      const Timing c = time_once(read_once);
      tg.push_back(g.wall);
      cg.push_back(g1.cpu);
      tc.push_back(c.wall);
      cc.push_back(c.cpu);
    }
    const double g = median(tg), t = median(tc);
    // cpu_ratio: the engine's CPU time (all threads) over a single-threaded GEMM's: the work
    // ratio, far less disturbed by other load on a shared machine than wall time (the 2-thread
    // GEMM's threads busy-wait for each other). Run with OMP_WAIT_POLICY=PASSIVE so idle OpenMP
    // threads do not spin.
    std::printf("bench %s ratio %.3f seconds %.5f gemm_seconds %.5f cpu_ratio %.3f\n", name, t / (gemms * g), t, g,
                median(cc) / (gemms * median(cg)));
    std::fflush(stdout);
  };
  for (const BenchCase& bc : bench_cases()) run_case(bc.name, bc.setup, bc.gemms);
  std::printf("bench engine done loadavg %s\n", load_average().c_str());
  return 0;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  if (argc >= 2 && is_model_bench(argv[1])) return cmd_bench_model(argc, argv);
  cxxopts::Options opt("xbar bench", "Benchmarks. `xbar bench engine`: ratios of the engine's read time to a plain float GEMM "
                                     "(Eigen, all threads) for the same batch x n x n product; lines `bench <case> ratio <x>`. "
                                     "`xbar bench cost`: read time with cost counting over without (CPU time, same reads). "
                                     "`xbar bench model` and `xbar bench eval-cost`: whole models (xbar bench model --help).");
  opt.add_options()("what", "benchmark to run: engine, cost", cxxopts::value<std::string>()->default_value("engine"))(
      "batch", "input vectors per read (count)", cxxopts::value<int>()->default_value("256"))(
      "n", "weight matrix is n x n (count)", cxxopts::value<int>()->default_value("1024"))(
      "tile", "array size tile x tile (cells)", cxxopts::value<int>()->default_value("256"))(
      "reps", "timed repetitions per case; the median is reported (count)", cxxopts::value<int>()->default_value("7"))(
      "h,help", "show this help");
  opt.parse_positional({"what"});
  const auto parsed = parse_or_help(opt, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& res = *parsed;
  const std::string what = res["what"].as<std::string>();
  if (what != "engine" && what != "cost") throw Error("unknown benchmark '" + what + "' (available: engine, cost, model, eval-cost)");
  if (what == "cost") return bench_cost(res["batch"].as<int>(), res["n"].as<int>(), res["tile"].as<int>(), std::max(1, res["reps"].as<int>()));
  return bench_engine(res["batch"].as<int>(), res["n"].as<int>(), res["tile"].as<int>(), std::max(1, res["reps"].as<int>()));
}

}  // namespace xbar::cli
