// Drift compensation (reference reads at t = 0 and t, digital factor) and time lists with units.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "engine/analog_layer.h"
#include "common/time_units.h"

using namespace xbar;

namespace {

RowMatrixXf uniform(int rows, int cols, float lo, float hi, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  RowMatrixXf m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = u(g);
  return m;
}

double rel_err(const RowMatrixXf& y, const RowMatrixXf& ref) { return (y - ref).norm() / ref.norm(); }

// Normal device: no programming or read noise; drift nu ~ N(nu, nu_std) per cell, t0 = 20 s.
XbarConfig drifting(double nu, double nu_std, const char* mode) {
  XbarConfig c;
  c.device.model = DeviceKind::normal;
  c.device.normal.drift_nu = nu;
  c.device.normal.drift_nu_std = nu_std;
  set_key(c, "drift_compensation.mode", mode);
  return c;
}

constexpr double kYear = 3.15576e7;

// PCM (nu depends on G, spread per cell) with programming and read noise off, ideal DAC/ADC:
// relative error of the 1-year output against the t = 0 output of the same chip.
double pcm_year_error(const RowMatrixXf& W, const RowMatrixXf& X, const char* mode, const char* scale) {
  XbarConfig c;
  c.device.model = DeviceKind::pcm;
  c.device.prog_noise_scale = 0;
  c.device.read_noise_scale = 0;
  set_key(c, "mapping.scale", scale);
  set_key(c, "drift_compensation.mode", mode);
  c.run.t_inference_s = 0;
  AnalogLayer L(c);
  L.program(W);
  const RowMatrixXf y0 = L.read(X);
  L.drift_to(kYear);
  const double e = rel_err(L.read(X), y0);
  MESSAGE(std::string(mode) << " compensation, scale per " << std::string(scale) << ": relative error at 1 y " << e);
  return e;
}

}  // namespace

TEST_CASE("global compensation restores the t = 0 output when every cell drifts alike") {
  // nu_std = 0, g_min = 0, no noise, ideal DAC/ADC: every conductance is multiplied by the same
  // c = ((t + t0)/t0)^-nu, so y(t) = c y(0) and the factor is 1/c. What remains is float32
  // rounding: of G(t) per cell (2^-24) and of the GEMM sums over 256 rows (<= 256 * 2^-24 ~ 1.5e-5
  // of the output scale in the worst case): tolerance 2e-5 of max |y(0)|.
  const RowMatrixXf W = uniform(40, 256, -1, 1, 1), X = uniform(64, 256, -1, 1, 2);
  std::vector<float> bias(40);
  for (int j = 0; j < 40; ++j) bias[size_t(j)] = 0.1f * float(j - 20);
  XbarConfig c = drifting(0.06, 0.0, "global");
  c.run.t_inference_s = 0;
  RowMatrixXf y0;
  double scale = 0;
  for (const char* ref : {"identity", "ones"}) {
    INFO(ref);
    set_key(c, "drift_compensation.reference", ref);
    AnalogLayer L(c);
    L.program(W, bias.data());
    y0 = L.read(X);
    CHECK(L.counters().drift_factor == 1.0);  // t = 0: baseline and current reference are the same read
    L.drift_to(kYear);
    const RowMatrixXf yc = L.read(X);
    scale = y0.cwiseAbs().maxCoeff();
    CHECK((yc - y0).cwiseAbs().maxCoeff() < 2e-5 * scale);
    const double c_year = std::pow((kYear + 20) / 20, -0.06);
    CHECK(L.counters().drift_factor == doctest::Approx(1 / c_year).epsilon(1e-5));
  }
  // Without compensation the same chip reads ~c times the signal (the check above can fail).
  XbarConfig n = c;
  n.drift_compensation.mode = DriftCompensationMode::none;
  AnalogLayer N(n);
  N.program(W, bias.data());
  N.drift_to(kYear);
  CHECK((N.read(X) - y0).cwiseAbs().maxCoeff() > 0.3 * scale);
  CHECK(N.counters().drift_factor == 1.0);
}

TEST_CASE("global factor matches the closed form 1 / E[((t + t0)/t0)^-nu] with a spread of nu") {
  // nu ~ N(0.06, 0.02^2) per cell, independent of G: E[d] = exp(-mu L + s^2 L^2 / 2), L =
  // ln((t + t0)/t0) (|nu| folding is negligible at mu / s = 3). Positive weights make the all-ones
  // reference sum_ij G_ij d_ij / sum_ij G_ij: its relative sd is sd(d)/E[d] * sqrt(sum G^2) / sum G,
  // computed from the programmed conductances; tolerance 4 sd.
  const RowMatrixXf W = uniform(64, 256, 0.1f, 1, 3);
  XbarConfig c = drifting(0.06, 0.02, "global");
  c.run.t_inference_s = kYear;
  AnalogLayer L(c);
  L.program(W);
  const double Lg = std::log((kYear + 20) / 20), mu = 0.06, s = 0.02;
  const double Ed = std::exp(-mu * Lg + s * s * Lg * Lg / 2);
  const double rel_sd_d = std::sqrt(std::exp(s * s * Lg * Lg) - 1);
  const Eigen::MatrixXd g = L.programmed(0).cast<double>();  // G+ (G- is all g_min = 0)
  const double sd = rel_sd_d * g.norm() / g.sum();
  INFO("expected factor " << 1 / Ed << ", relative sd " << sd);
  CHECK(std::abs(L.counters().drift_factor * Ed - 1) < 4 * sd);
  // tau^-mu alone (ignoring the spread) is 4% off: the test resolves the spread term.
  CHECK(std::abs(L.counters().drift_factor * std::exp(-mu * Lg) - 1) > 10 * sd);
}

TEST_CASE("with a spread of nu, compensation cuts the 1-year error") {
  // Error against the t = 0 output of the same chip. Measured: none 0.506, global 0.128, column
  // 0.129 (what remains is the cell-to-cell spread of nu, which no output factor can undo);
  // required margin: compensated < 0.4 x uncompensated.
  const RowMatrixXf W = uniform(64, 256, -1, 1, 4), X = uniform(128, 256, 0, 1, 5);
  const double none = pcm_year_error(W, X, "none", "column"), global = pcm_year_error(W, X, "global", "column"),
               column = pcm_year_error(W, X, "column", "column");
  CHECK(none > 0.3);
  CHECK(global < 0.4 * none);
  CHECK(column < 0.4 * none);
}

TEST_CASE("per-column compensation beats global when columns drift differently") {
  // PCM's drift exponent falls with conductance (Nandakumar 2019: nu ~ 0.07 at 5% of g_max, 0.049
  // at >= 30%). With one scale per tile, columns 0..31 hold weights 10x smaller than 32..63, so
  // they sit at low G and drift faster: one global factor over- and under-corrects the two halves,
  // one factor per column does not. Positive weights and inputs keep every output a sum of
  // positive terms, so the cell-to-cell spread averages out. Measured: global 0.0212, column
  // 0.0043; required: column < 0.5 x global.
  RowMatrixXf W = uniform(64, 256, 0.5f, 1, 6);
  W.topRows(32) *= 0.1f;
  const RowMatrixXf X = uniform(128, 256, 0, 1, 7);
  CHECK(pcm_year_error(W, X, "column", "tile") < 0.5 * pcm_year_error(W, X, "global", "tile"));
}

TEST_CASE("compensation is deterministic at any thread count and leaves the read-noise stream alone") {
  // Full PCM chip (programming noise, read noise), 6-bit DAC, calibrated 6-bit ADC, 2 x 2 tiles.
  const RowMatrixXf W = uniform(300, 300, -1, 1, 8), X = uniform(200, 300, -1, 1, 9);
  auto run = [&](const char* mode, int threads, int refs) {
    XbarConfig c;
    c.device.model = DeviceKind::pcm;
    c.dac.bits = 6;
    c.adc.bits = 6;
    c.adc.range = AdcRange::calibrated;
    set_key(c, "drift_compensation.mode", mode);
    c.drift_compensation.reference_reads = refs;
    c.run.threads = threads;
    c.run.t_inference_s = 86400;
    AnalogLayer L(c);
    L.program(W);
    L.calibrate(X);
    RowMatrixXf y = L.read(X);
    return std::make_pair(y, L.counters());
  };
  for (const char* mode : {"global", "column"}) {
    INFO(mode);
    const auto [y1, c1] = run(mode, 1, 3);
    const auto [y2, c2] = run(mode, 2, 3);
    CHECK(y1 == y2);
    CHECK(c1.drift_factor == c2.drift_factor);
    CHECK(c1.drift_factor > 1.05);  // a day of PCM drift
    CHECK(c1.conversions == c2.conversions);
  }
  // Global: the compensated read is the uncompensated read (same noise draws) times the factor.
  const auto [yn, cn] = run("none", 2, 1);
  const auto [yg, cg] = run("global", 2, 1);
  CHECK(cn.reads == cg.reads);
  CHECK(cn.conversions == cg.conversions);  // reference conversions are not counted as reads
  const RowMatrixXf scaled = yn * float(cg.drift_factor);
  CHECK(yg == scaled);
}

TEST_CASE("drift_compensation config: TOML, --set and typed errors") {
  XbarConfig c;
  apply_toml_string(c, "[drift_compensation]\nmode = \"column\"\nreference_reads = 4\n");
  CHECK(c.drift_compensation.mode == DriftCompensationMode::column);
  CHECK(c.drift_compensation.reference_reads == 4);
  set_key(c, "drift_compensation.mode", "global");
  CHECK(c.drift_compensation.mode == DriftCompensationMode::global);
  CHECK(to_toml(c).find("[drift_compensation]") != std::string::npos);
  try {
    set_key(c, "drift_compensation.mode", "sideways");
    FAIL("bad mode accepted");
  } catch (const ConfigError& e) {
    CHECK(e.field() == "drift_compensation.mode");
    CHECK(std::string(e.what()).find("sideways") != std::string::npos);
    CHECK(std::string(e.what()).find("none, global, column") != std::string::npos);
  }
  CHECK(c.drift_compensation.mode == DriftCompensationMode::global);  // a rejected name changes nothing
  XbarConfig e;
  CHECK_THROWS_WITH_AS(apply_toml_string(e, "[drift_compensation]\nreference = \"zeros\"\n"),
                       doctest::Contains("drift_compensation.reference"), ConfigError);
  XbarConfig d;
  d.drift_compensation.reference_reads = 0;
  CHECK_THROWS_WITH_AS(AnalogLayer{d}, doctest::Contains("drift_compensation.reference_reads"), ConfigError);
  CHECK_THROWS_WITH_AS(apply_toml_string(d, "[drift_compensation]\nmod = \"global\"\n"),
                       doctest::Contains("did you mean drift_compensation.mode"), ConfigError);
}

TEST_CASE("time lists with units") {
  const auto t = parse_duration_list("1s,1h,1d,1mo,1y", "--t-inference");
  REQUIRE(t.size() == 5);
  CHECK(t[0] == 1.0);
  CHECK(t[1] == 3600.0);
  CHECK(t[2] == 86400.0);
  CHECK(t[3] == doctest::Approx(2.6298e6));  // a year / 12
  CHECK(t[4] == 3.15576e7);                  // 365.25 days
  CHECK(parse_duration_s("90", "x") == 90.0);
  CHECK(parse_duration_s("1.5h", "x") == 5400.0);
  CHECK(parse_duration_s("2min", "x") == 120.0);
  CHECK(parse_duration_s("1e3", "x") == 1000.0);
  CHECK(format_duration(3600) == "1h");
  CHECK(format_duration(2 * 3.15576e7) == "2y");
  CHECK(format_duration(2.5) == "2.5s");
  for (const char* bad : {"1fortnight", "", "h", "-1s", "1h,", "1 h", "nan", "inf"}) {
    INFO(bad);
    CHECK_THROWS_WITH_AS(parse_duration_list(bad, "--t-inference"), doctest::Contains("--t-inference"), ConfigError);
  }
}
