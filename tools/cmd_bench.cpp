// xbar bench engine: cost of the engine's read relative to a plain float GEMM of the same size,
// measured side by side in one run (median of repeated timings).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cxxopts.hpp>
#include <functional>
#include <iostream>

#include "src/analog_layer.h"
#include "tools/commands.h"

namespace xbar::cli {

namespace {

double median_seconds(int reps, const std::function<void()>& f) {
  f();  // warm-up
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

int bench_engine(int batch, int n, int tile, int reps) {
  const int threads = omp_get_max_threads();
  RowMatrixXf W = RowMatrixXf::Random(n, n), X = RowMatrixXf::Random(batch, n);
  RowMatrixXf Y(batch, n);
  const double gemm = median_seconds(reps, [&] {
    Eigen::setNbThreads(threads);
    Y.noalias() = X * W.transpose();
  });
  std::printf("bench gemm %dx%dx%d seconds %.5f threads %d\n", batch, n, n, gemm, threads);

  auto run_case = [&](const char* name, const std::function<void(XbarConfig&)>& setup, double gemms) {
    XbarConfig cfg;
    cfg.mapping.tile_rows = cfg.mapping.tile_cols = tile;
    setup(cfg);
    AnalogLayer layer(cfg);
    layer.program(W);
    // The GEMM is timed again right beside each case (interleaved), so machine drift between
    // cases does not enter the ratio.
    std::vector<double> tg, tc;
    for (int r = 0; r < reps; ++r) {
      tg.push_back(median_seconds(1, [&] {
        Eigen::setNbThreads(threads);
        Y.noalias() = X * W.transpose();
      }));
      tc.push_back(median_seconds(1, [&] { Y = layer.read(X); }));
    }
    std::nth_element(tg.begin(), tg.begin() + reps / 2, tg.end());
    std::nth_element(tc.begin(), tc.begin() + reps / 2, tc.end());
    const double g = tg[size_t(reps / 2)], t = tc[size_t(reps / 2)];
    std::printf("bench %s ratio %.3f seconds %.5f gemm_seconds %.5f\n", name, t / (gemms * g), t, g);
    std::fflush(stdout);
  };
  run_case("ideal", [](XbarConfig&) {}, 1);
  auto dac_adc_prog = [](XbarConfig& c) {
    c.dac.bits = 8;
    c.adc.bits = 8;
    c.device.model = "pcm";
    c.device.read_noise_scale = 0;
  };
  run_case("dac_adc_prog", dac_adc_prog, 1);
  run_case("dac_adc_prog_read", [&](XbarConfig& c) {
    dac_adc_prog(c);
    c.device.read_noise_scale = 1;
  }, 1);
  run_case("bitserial", [](XbarConfig& c) {
    c.dac.bits = 9;  // sign + 8 magnitude bits, fed as 8 one-bit slices
    c.dac.slice_bits = 1;
    c.mapping.weight_bits = 5;  // sign + 4 magnitude bits in 2 slices of 2 bits
    c.mapping.cell_bits = 2;
    c.adc.bits = 8;
  }, 16);
  return 0;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  cxxopts::Options opt("xbar bench", "Benchmarks. `xbar bench engine`: ratios of the engine's read time to a plain float GEMM "
                                     "(Eigen, all threads) for the same batch x n x n product; lines `bench <case> ratio <x>`.");
  opt.add_options()("what", "benchmark to run: engine", cxxopts::value<std::string>()->default_value("engine"))(
      "batch", "input vectors per read (count)", cxxopts::value<int>()->default_value("256"))(
      "n", "weight matrix is n x n (count)", cxxopts::value<int>()->default_value("1024"))(
      "tile", "array size tile x tile (cells)", cxxopts::value<int>()->default_value("256"))(
      "reps", "timed repetitions per case; the median is reported (count)", cxxopts::value<int>()->default_value("7"))(
      "h,help", "show this help");
  opt.parse_positional({"what"});
  auto res = opt.parse(argc, argv);
  if (res.count("help")) {
    std::cout << opt.help();
    return 0;
  }
  const std::string what = res["what"].as<std::string>();
  if (what != "engine") throw Error("unknown benchmark '" + what + "' (available: engine)");
  return bench_engine(res["batch"].as<int>(), res["n"].as<int>(), res["tile"].as<int>(), std::max(1, res["reps"].as<int>()));
}

}  // namespace xbar::cli
