// bench_parasitics: cost of the exact IR-drop model. For each array size: the one-time effective
// matrix M(G) (wall time, peak memory above the process's resident size before the solve), then a
// batch of 256 reads through M next to the same reads through G (float GEMMs, as the engine reads).
// Conductances uniform in [0, 25] uS, 1 ohm per row and column segment.
// usage: bench_parasitics [size ...]   (default 128 256 512 1024; sizes are square arrays)
// stdout: one line per size, `bench parasitics RxC seconds T peak_MiB P read_ratio X`, then
// `bench parasitics RxC after_read seconds T eigen_threads N`: M built again after an engine read
// (a read must not leave Eigen single-threaded);
// stderr: solver residual and IR-drop severity per size.
#include <sys/resource.h>
#include <unistd.h>

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "circuits/parasitics.h"
#include "engine/analog_layer.h"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double resident_mib() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double peak_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // KiB on Linux
}

// Best-of-`reps` timings of Y = X W (float, the engine's read GEMM) for W = G and W = M,
// interleaved so both see the same machine load.
void read_seconds(const Eigen::MatrixXf& X, const Eigen::MatrixXf& G, const Eigen::MatrixXf& M, int reps,
                  double& t_g, double& t_m) {
  Eigen::MatrixXf Y(X.rows(), G.cols());
  t_g = t_m = 1e30;
  for (int r = 0; r < reps; ++r) {
    double t0 = now();
    Y.noalias() = X * G;
    t_g = std::min(t_g, now() - t0);
    t0 = now();
    Y.noalias() = X * M;
    t_m = std::min(t_m, now() - t0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {128, 256, 512, 1024};
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> g_dist(0.0, 25e-6), v_dist(-0.2, 0.2);
  xbar::WireConfig wires;
  wires.r_row_ohm = 1.0;
  wires.r_col_ohm = 1.0;

  for (int n : sizes) {
    if (n <= 0) {
      std::fprintf(stderr, "bench_parasitics: size must be positive, got %d\n", n);
      return 1;
    }
    Eigen::MatrixXd G(n, n);
    for (Eigen::Index k = 0; k < G.size(); ++k) G.data()[k] = g_dist(rng);
    const double rss0 = resident_mib();
    xbar::SolveStats stats;
    const double t0 = now();
    const Eigen::MatrixXd M = xbar::effective_matrix(G, wires, &stats);
    const double seconds = now() - t0;
    const double peak = std::max(0.0, peak_mib() - rss0);

    constexpr int kBatch = 256;
    Eigen::MatrixXf X(kBatch, n);
    for (Eigen::Index k = 0; k < X.size(); ++k) X.data()[k] = float(v_dist(rng));
    const Eigen::MatrixXf Gf = G.cast<float>(), Mf = M.cast<float>();
    const int reps = std::max(10, int(1e10 / (2.0 * kBatch * n * n)));
    double t_plain = 0, t_parasitic = 0;
    read_seconds(X, Gf, Mf, 2, t_plain, t_parasitic);  // warm up
    read_seconds(X, Gf, Mf, reps, t_plain, t_parasitic);
    std::printf("bench parasitics %dx%d seconds %.4f peak_MiB %.1f read_ratio %.3f\n", n, n, seconds, peak,
                t_parasitic / t_plain);
    std::fflush(stdout);
    std::fprintf(stderr, "  %dx%d: residual %.2e, ir_drop_severity %.3f, reads %.3g s (G) %.3g s (M)\n", n, n,
                 stats.residual, xbar::ir_drop_severity(G, M), t_plain, t_parasitic);

    // One engine read (multi-threaded over work items), then the same M again.
    xbar::AnalogLayer layer{xbar::XbarConfig{}};
    layer.program(xbar::RowMatrixXf::Random(256, 256));
    layer.read(xbar::RowMatrixXf::Random(kBatch, 256));
    const double t1 = now();
    const Eigen::MatrixXd M2 = xbar::effective_matrix(G, wires);
    std::printf("bench parasitics %dx%d after_read seconds %.4f eigen_threads %d\n", n, n, now() - t1,
                Eigen::nbThreads());
    std::fflush(stdout);
    if (!(M2.array() == M.array()).all()) {
      std::fprintf(stderr, "bench_parasitics: M differs after a read\n");
      return 1;
    }
  }
  return 0;
}
