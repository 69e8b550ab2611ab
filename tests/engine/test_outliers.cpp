// Outlier routing: planted outlier input channels / weights dominate the DAC and weight scales;
// routing them to the float path must cut the error at low precision (measured), and the split
// itself must be exact (ideal analog path: result equals the float product).
#include <doctest/doctest.h>

#include <random>

#include "engine/analog_layer.h"

using namespace xbar;

namespace {
struct Case {
  RowMatrixXf W, X;
  Eigen::MatrixXd ref;
};
Case planted(bool input_outliers, bool weight_outliers) {
  std::mt19937 g(21);
  std::normal_distribution<float> nd;
  Case c;
  c.W.resize(64, 200);
  c.X.resize(128, 200);
  for (int i = 0; i < c.W.size(); ++i) c.W.data()[i] = nd(g);
  for (int i = 0; i < c.X.size(); ++i) c.X.data()[i] = nd(g);
  if (input_outliers)
    for (int ch : {7, 100}) c.X.col(ch) *= 60.f;  // two channels 60x larger (LLM-style outliers)
  if (weight_outliers)
    for (int k = 0; k < 20; ++k) c.W(k * 3 % 64, (k * 37) % 200) = 80.f;
  c.ref = c.X.cast<double>() * c.W.cast<double>().transpose();
  return c;
}
double err(const Case& c, const XbarConfig& cfg, LayerCounters* k = nullptr) {
  AnalogLayer L(cfg);
  L.program(c.W);
  L.calibrate(c.X);
  const RowMatrixXf Y = L.read(c.X);
  if (k) *k = L.counters();
  return (Y.cast<double>() - c.ref).norm() / c.ref.norm();
}
}  // namespace

TEST_CASE("outlier paths are exact when the analog path is ideal") {
  const Case c = planted(true, true);
  XbarConfig cfg;
  cfg.outliers.input_topk_percent = 1;
  cfg.outliers.weight_topk_percent = 0.5;
  LayerCounters k;
  CHECK(err(c, cfg, &k) < 1e-6);  // float32 engine vs double reference
  CHECK(k.digital_channels == 2);
  CHECK(k.digital_weights == 64);  // 0.5% of 12800
  XbarConfig st;
  st.outliers.input_threshold = 20;  // only the planted channels exceed 20 (N(0,1) elsewhere)
  CHECK(err(c, st, &k) < 1e-6);
  CHECK(k.digital_channels == 2);
}

TEST_CASE("routing outlier input channels digital cuts the low-precision error") {
  const Case c = planted(true, false);
  XbarConfig cfg;
  cfg.dac.bits = 6;
  cfg.adc.bits = 6;
  cfg.adc.range = AdcRange::calibrated;
  cfg.mapping.weight_bits = 8;
  const double e_off = err(c, cfg);
  cfg.outliers.input_topk_percent = 1;  // 2 of 200 channels
  const double e_on = err(c, cfg);
  MESSAGE("input outliers: error " << e_off << " -> " << e_on);
  // Without routing, the 60x channels set the 6-bit DAC scale and the normal channels quantize to
  // ~0 (step 60/31 >> 1); with routing they use the full range. Require at least 3x.
  CHECK(e_on < e_off / 3);
}

TEST_CASE("routing the largest weights digital cuts the weight-quantization error") {
  const Case c = planted(false, true);
  XbarConfig cfg;
  cfg.mapping.weight_bits = 5;
  cfg.mapping.scale = WeightScale::tile;
  const double e_off = err(c, cfg);
  cfg.outliers.weight_topk_percent = 0.2;  // 26 weights >= the 20 planted ones
  const double e_on = err(c, cfg);
  MESSAGE("weight outliers: error " << e_off << " -> " << e_on);
  CHECK(e_on < e_off / 3);
}

TEST_CASE("outlier config errors name the field") {
  XbarConfig cfg;
  cfg.outliers.input_topk_percent = 150;
  CHECK_THROWS_WITH_AS(cfg.validate(), doctest::Contains("outliers.input_topk_percent = 150"), ConfigError);
  cfg = XbarConfig{};
  cfg.outliers.input_topk_percent = 1;
  cfg.outliers.input_threshold = 3;
  CHECK_THROWS_WITH_AS(cfg.validate(), doctest::Contains("outliers.input_threshold"), ConfigError);
}
