// Statistical checks of the engine's noise stages against closed forms and independent sampling.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "engine/analog_layer.h"

using namespace xbar;

TEST_CASE("programmed conductances have the published PCM sigma at their target") {
  // W = 0.5 everywhere except one 1.0 that sets the tile scale: every G+ targets 12.5 uS.
  // 65535 cells: se of the std ~0.3%; tolerance 2%.
  RowMatrixXf W = RowMatrixXf::Constant(256, 256, 0.5f);
  W(0, 0) = 1.0f;
  XbarConfig c;
  c.device.model = DeviceKind::pcm;
  c.run.t_inference_s = 0;
  AnalogLayer L(c);
  L.program(W);
  const Eigen::MatrixXf& gp = L.programmed(0);  // G+ of the only tile
  Eigen::ArrayXd d = (gp.cast<double>().array() - 12.5).reshaped();
  d(0) = 0;  // the 1.0 cell targets 25 uS
  const double sigma = 0.26348 + 1.9650 * 0.5 - 1.1731 * 0.25;  // Nandakumar 2019 polynomial
  CHECK(std::abs(d.mean()) < 5 * sigma / 256);
  CHECK(std::sqrt((d - d.mean()).square().mean()) == doctest::Approx(sigma).epsilon(0.02));
}

TEST_CASE("read-noise output variance equals sum_i V_i^2 sigma_ij^2, with the shared reference column") {
  // Normal device, constant read sigma, no programming noise, ideal DAC/ADC. The same input vector
  // read B = 20000 times (as a batch): per-column variance should be 2 sigma^2 sum V^2 (two cells
  // per weight) in output units; se of a variance estimate sqrt(2/B) = 1%, averaged over 16
  // columns: tolerance 3%. With offset mapping the reference column's noise is common to all
  // columns of a read: covariance sigma^2 sum V^2 (x 4 for the offset mapping's factor 2).
  const int in = 48, out = 16, B = 20000;
  std::mt19937 g(1);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  RowMatrixXf W(out, in), x(1, in);
  for (int i = 0; i < W.size(); ++i) W.data()[i] = u(g);
  for (int i = 0; i < in; ++i) x(0, i) = u(g);
  const RowMatrixXf X = x.replicate(B, 1);
  for (const char* mapping : {"differential", "offset"}) {
    XbarConfig c;
    c.device.model = DeviceKind::normal;
    c.device.normal.read_sigma_uS = 0.5;
    set_key(c, "mapping.mapping", mapping);
    AnalogLayer L(c);
    L.program(W);
    const RowMatrixXf Y = L.read(X);
    const Eigen::MatrixXd Yd = Y.cast<double>();
    const Eigen::RowVectorXd mean = Yd.colwise().mean();
    const Eigen::MatrixXd D = Yd.rowwise() - mean;
    const Eigen::MatrixXd cov = D.transpose() * D / double(B);
    const double r = x.cwiseAbs().maxCoeff(), s = W.cwiseAbs().maxCoeff();
    const double sumv2 = (x / r).squaredNorm();
    const bool offset = std::string(mapping) == "offset";
    const double k = (offset ? 2.0 : 1.0) * s * r / 25.0;  // output units per (uS * V)
    const double expect_var = 2 * 0.25 * sumv2 * k * k;
    INFO(mapping);
    CHECK(cov.diagonal().mean() == doctest::Approx(expect_var).epsilon(0.03));
    double off = 0;
    for (int i = 0; i < out; ++i)
      for (int j = 0; j < out; ++j)
        if (i != j) off += cov(i, j);
    off /= out * (out - 1);
    const double expect_cov = offset ? 0.25 * sumv2 * k * k : 0.0;
    CHECK(std::abs(off - expect_cov) < 0.03 * expect_var);
    // The mean is the noise-free product (se = sqrt(var / B) per column).
    const Eigen::VectorXd ref = W.cast<double>() * x.transpose().cast<double>();
    CHECK((mean.transpose() - ref).cwiseAbs().maxCoeff() < 5 * std::sqrt(expect_var / B));
  }
}

TEST_CASE("drift: mean of G(t)/G_prog follows ((t+t0)/t0)^-nu with per-device nu") {
  // nu ~ |N(0.05, 0.01)| (the fold is 5 sigma away): E[f^-nu] = exp(-a mu + a^2 s^2 / 2),
  // a = ln((t + t0)/t0). All weights 1 (only G+ cells, at 25 uS) and an all-ones input: each
  // output is the column sum of G(t)/G_prog. Per-cell spread ~4.5%, 65536 cells: se 2e-4;
  // tolerance 1e-3 relative.
  RowMatrixXf W = RowMatrixXf::Ones(256, 256), X = RowMatrixXf::Ones(1, 256);
  XbarConfig c;
  c.device.model = DeviceKind::normal;
  c.device.normal.drift_nu = 0.05;
  c.device.normal.drift_nu_std = 0.01;
  c.device.normal.t0_s = 20;
  c.run.t_inference_s = 0;
  AnalogLayer L(c);
  L.program(W);
  const double y0 = L.read(X).mean();
  CHECK(y0 == doctest::Approx(256.0).epsilon(1e-6));
  for (double t : {100.0, 1e4, 3.15e7}) {
    L.drift_to(t);
    const double a = std::log((t + 20.0) / 20.0);
    const double expect = std::exp(-a * 0.05 + a * a * 1e-4 / 2);
    INFO("t = " << t);
    CHECK(L.read(X).mean() / y0 == doctest::Approx(expect).epsilon(1e-3));
  }
  // drift_to(t) depends on t alone, not on earlier drift steps.
  L.drift_to(1e4);
  const RowMatrixXf a = L.read(X);
  L.drift_to(50);
  L.drift_to(1e4);
  CHECK((L.read(X).array() == a.array()).all());
}

TEST_CASE("stuck-at faults occur at the configured rates") {
  // 2 x 65536 cells; se of a rate estimate sqrt(p/n) ~ 1.2e-3 at p = 0.1; tolerance 5 se.
  RowMatrixXf W = RowMatrixXf::Constant(256, 256, 0.5f);
  W(0, 0) = 1.0f;
  XbarConfig c;
  c.device.stuck_at_gmin_rate = 0.1;
  c.device.stuck_at_gmax_rate = 0.05;
  AnalogLayer L(c);
  L.program(W);
  const Eigen::MatrixXf& gp = L.programmed(0);
  const Eigen::MatrixXf& gm = L.programmed(1);  // targets 0 uS: only stuck-at-g_max shows
  const double n = double(gp.size());
  const double at_min = (gp.array() == 0.f).count() / n, at_max = (gp.array() == 25.f).count() / n;
  CHECK(std::abs(at_min - 0.1) < 5 * std::sqrt(0.1 / n));
  CHECK(std::abs(at_max - 0.05) < 5 * std::sqrt(0.05 / n) + 1.0 / n);
  CHECK(std::abs((gm.array() == 25.f).count() / n - 0.05) < 5 * std::sqrt(0.05 / n));
}

TEST_CASE("ADC ranges: fixed saturates and counts, calibrated fits the data") {
  std::mt19937 g(3);
  std::normal_distribution<float> nd;
  RowMatrixXf W(64, 256), X(200, 256);
  for (int i = 0; i < W.size(); ++i) W.data()[i] = nd(g);
  for (int i = 0; i < X.size(); ++i) X.data()[i] = nd(g);
  const Eigen::MatrixXd ref = X.cast<double>() * W.cast<double>().transpose();
  auto err = [&](XbarConfig c, int64_t* sat) {
    AnalogLayer L(c);
    L.program(W);
    L.calibrate(X);
    const RowMatrixXf Y = L.read(X);
    *sat = L.counters().saturations;
    CHECK(L.counters().conversions == 200 * 64);
    return (Y.cast<double>() - ref).norm() / ref.norm();
  };
  XbarConfig c;
  c.adc.bits = 6;
  int64_t s_worst, s_fixed, s_cal;
  const double e_worst = err(c, &s_worst);
  c.adc.range = AdcRange::fixed;
  c.adc.fixed_fraction = 0.01;
  const double e_fixed = err(c, &s_fixed);
  c.adc.range = AdcRange::calibrated;
  c.adc.percentile = 100;
  const double e_cal = err(c, &s_cal);
  CHECK(s_worst == 0);
  CHECK(s_fixed > 0);
  CHECK(s_cal == 0);  // the calibration data itself never exceeds its 100th percentile
  // Random +-1 sums of 256 terms reach ~sqrt(256) = 16, far below the worst case 256: the
  // calibrated range resolves them much better.
  CHECK(e_cal < e_worst / 4);
  CHECK(e_fixed > e_cal);  // 1 % of the worst case clips the larger sums
}

TEST_CASE("counters report tiles, arrays, occupancy and bytes per weight") {
  XbarConfig c;
  c.mapping.tile_rows = 100;
  c.mapping.tile_cols = 60;
  c.mapping.weight_bits = 8;
  c.mapping.cell_bits = 4;  // 7 magnitude bits -> 2 slices, 2 arrays each
  AnalogLayer L(c);
  L.program(RowMatrixXf::Random(120, 250));
  const LayerCounters& k = L.counters();
  CHECK(k.tiles == 3 * 2);
  CHECK(k.arrays == 6 * 2 * 2);
  CHECK(k.occupancy == doctest::Approx(120.0 * 250 / (6.0 * 100 * 60)));
  // Per slice: G+ and G- (4 + 4 bytes per weight) and the read matrix (4); no read noise.
  CHECK(k.bytes_per_weight == doctest::Approx(2 * 12.0));
}

TEST_CASE("device.pcm.t0_s sets the PCM drift reference time: closed form G(t) = G0 ((t + t0)/t0)^-nu") {
  // With the nu clamps pinned (mean 0.06, std 0) every device drifts with nu = 0.06, and without
  // programming or read noise and ideal converters a read scales exactly by ((t + t0)/t0)^-nu
  // (bias-free layer, differential pairs drift alike). float32 outputs: tolerance 1e-5 relative.
  RowMatrixXf W(8, 16), X(4, 16);
  for (Eigen::Index i = 0; i < W.size(); ++i) W.data()[i] = float((i * 37 % 23) - 11) / 11.f;
  for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = float((i * 13 % 17) - 8) / 8.f;
  const double nu = 0.06, t = 1e4;
  for (double t0 : {20.0, 500.0}) {
    XbarConfig c;
    c.device.model = DeviceKind::pcm;
    c.device.prog_noise_scale = 0;
    c.device.read_noise_scale = 0;
    c.device.pcm.nu_mean_min = c.device.pcm.nu_mean_max = nu;
    c.device.pcm.nu_std_min = c.device.pcm.nu_std_max = 0;
    c.device.pcm.t0_s = t0;
    c.run.t_inference_s = 0;
    AnalogLayer L(c);
    L.program(W);
    const RowMatrixXf y0 = L.read(X);
    L.drift_to(t);
    const RowMatrixXf y = L.read(X);
    const double expect = std::pow((t + t0) / t0, -nu);
    INFO("t0 = " << t0);
    for (Eigen::Index i = 0; i < y.size(); ++i)
      if (std::abs(y0.data()[i]) > 1e-3) CHECK(y.data()[i] / y0.data()[i] == doctest::Approx(expect).epsilon(1e-5));
  }
}
