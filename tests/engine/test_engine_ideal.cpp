// The engine against independent references: the float product, and an integer reference for the
// quantized pipeline (no quantization error when the ADC has enough bits).
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/analog_layer.h"

using namespace xbar;

namespace {
RowMatrixXf random_matrix(int r, int c, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> n(0.f, 1.f);
  RowMatrixXf m(r, c);
  for (int i = 0; i < m.size(); ++i) m.data()[i] = n(g);
  return m;
}
// Two reads at 1 thread and two at 2 threads of the same programmed chip.
std::vector<RowMatrixXf> reads_at_1_and_2_threads(XbarConfig c, const RowMatrixXf& W, const RowMatrixXf& X) {
  std::vector<RowMatrixXf> out;
  for (int threads : {1, 2}) {
    c.run.threads = threads;
    AnalogLayer L(c);
    L.program(W);
    out.push_back(L.read(X));
    out.push_back(L.read(X));
  }
  return out;
}
double rel_err(const RowMatrixXf& a, const Eigen::MatrixXd& ref) {
  return (a.cast<double>() - ref).norm() / ref.norm();
}
}  // namespace

TEST_CASE("ideal mode equals W x for non-square W and sizes not multiple of the tile") {
  // Float32 arithmetic over ~100-term sums: norm-relative error ~1e-7; bound 1e-6.
  const RowMatrixXf W = random_matrix(77, 131, 1), X = random_matrix(19, 131, 2);
  std::vector<float> bias(77);
  for (int j = 0; j < 77; ++j) bias[j] = 0.1f * j;
  Eigen::MatrixXd ref = X.cast<double>() * W.cast<double>().transpose();
  for (int j = 0; j < 77; ++j) ref.col(j).array() += bias[j];
  for (const char* mapping : {"differential", "offset"})
    for (const char* scale : {"tile", "column"})
      for (int tile : {32, 50, 256}) {
        XbarConfig c;
        set_key(c, "mapping.mapping", mapping);
        set_key(c, "mapping.scale", scale);
        c.mapping.tile_rows = tile;
        c.mapping.tile_cols = tile + 7;
        AnalogLayer L(c);
        L.program(W, bias.data());
        INFO(mapping << " " << scale << " tile " << tile);
        CHECK(rel_err(L.read(X), ref) < 1e-6);
      }
}

TEST_CASE("enough ADC bits with 1-bit input slices reproduce the integer product exactly") {
  // Integer reference: x_q = round(x/r * 7) (4-bit signed DAC), w_q = round(w/s * 7) (4-bit
  // weights); y = s r / 49 * sum x_q w_q. adc.bits = weight_bits + ceil(log2 rows) = 4 + 6 = 10
  // (CrossSim's bound) makes conversion exact; the remaining difference is float32 rounding of the
  // final scaling (bound 1e-6 relative per element, against a double reference).
  const int rows = 64;
  const RowMatrixXf W = random_matrix(40, 150, 3), X = random_matrix(9, 150, 4);
  for (const char* mapping : {"differential", "offset"})
    for (int cell_bits : {0, 2}) {
      XbarConfig c;
      c.mapping.tile_rows = rows;
      c.mapping.tile_cols = 16;
      c.mapping.weight_bits = 4;
      c.mapping.cell_bits = cell_bits;
      set_key(c, "mapping.mapping", mapping);
      c.mapping.scale = WeightScale::column;
      c.dac.bits = 4;
      c.dac.slice_bits = 1;
      // Offset mapping stores weight_bits (not weight_bits - 1) per cell: one more ADC bit.
      c.adc.bits = (cell_bits ? cell_bits + 1 : 4) + 6 + (std::string(mapping) == "offset");
      AnalogLayer L(c);
      L.program(W);
      const RowMatrixXf Y = L.read(X);
      CHECK(L.counters().saturations == 0);
      // Reference, computed tile by tile with the same per-tile per-column scales.
      Eigen::MatrixXd ref = Eigen::MatrixXd::Zero(9, 40);
      for (int b = 0; b < 9; ++b) {
        const double r = X.row(b).cwiseAbs().maxCoeff();
        for (int o = 0; o < 40; ++o)
          for (int r0 = 0; r0 < 150; r0 += rows) {
            const int n = std::min(rows, 150 - r0);
            const double s = W.row(o).segment(r0, n).cwiseAbs().maxCoeff();
            double acc = 0;
            for (int i = r0; i < r0 + n; ++i)
              acc += std::nearbyint(X(b, i) / r * 7.0) * std::nearbyint(W(o, i) / s * 7.0);
            ref(b, o) += s * r / 49.0 * acc;
          }
      }
      INFO(mapping << " cell_bits " << cell_bits);
      CHECK(((Y.cast<double>() - ref).array().abs() <= 1e-6 * ref.array().abs().maxCoeff()).all());
      // One bit less loses exactness (the check can fail).
      XbarConfig d = c;
      d.adc.bits -= 2;
      AnalogLayer L2(d);
      L2.program(W);
      CHECK((L2.read(X).cast<double>() - ref).array().abs().maxCoeff() > 1e-3 * ref.array().abs().maxCoeff());
    }
}

TEST_CASE("weight quantization error shrinks as 2^-bits") {
  const RowMatrixXf W = random_matrix(64, 64, 5), X = random_matrix(32, 64, 6);
  const Eigen::MatrixXd ref = X.cast<double>() * W.cast<double>().transpose();
  double prev = 0;
  for (int bits : {3, 5, 7, 9}) {
    XbarConfig c;
    c.mapping.weight_bits = bits;
    AnalogLayer L(c);
    L.program(W);
    const double e = rel_err(L.read(X), ref);
    if (prev > 0) CHECK(e < prev / 3);  // each +2 bits divides the error by ~4
    prev = e;
  }
}

TEST_CASE("same seed gives bit-identical outputs with 1 and 2 threads; seeds differ") {
  const RowMatrixXf W = random_matrix(300, 200, 7), X = random_matrix(260, 200, 8);  // > one batch chunk
  XbarConfig c;
  c.device.model = DeviceKind::pcm;
  c.dac.bits = 6;
  c.adc.bits = 6;
  c.adc.noise_sigma_lsb = 0.5;
  c.adc.offset_sigma_lsb = 0.3;
  c.mapping.tile_rows = c.mapping.tile_cols = 64;
  c.run.t_inference_s = 3600;
  const auto out = reads_at_1_and_2_threads(c, W, X);
  CHECK((out[0].array() == out[2].array()).all());
  CHECK((out[1].array() == out[3].array()).all());
  CHECK_FALSE((out[0].array() == out[1].array()).all());  // read noise is fresh per read
  c.run.seed = 2;
  AnalogLayer L(c);
  L.program(W);
  CHECK_FALSE((L.read(X).array() == out[0].array()).all());
}

TEST_CASE("bit-serial, offset mapping, weight slices and read noise: identical at 1 and 2 threads") {
  // 300 batch rows: one 256-row chunk and a partial one; 150 outputs: 3 column tiles of 64.
  const RowMatrixXf W = random_matrix(150, 140, 3), X = random_matrix(300, 140, 4);
  XbarConfig c;
  c.device.model = DeviceKind::pcm;  // programming and read noise
  c.mapping.tile_rows = c.mapping.tile_cols = 64;
  c.mapping.mapping = SignedMapping::offset;  // reference column: one shared normal per read row
  c.mapping.weight_bits = 5;
  c.mapping.cell_bits = 2;  // 2 weight slices
  c.dac.bits = 5;
  c.dac.slice_bits = 2;  // 2 input slices
  c.adc.bits = 8;
  c.adc.noise_sigma_lsb = 0.5;
  SUBCASE("ADC") {}
  SUBCASE("ideal ADC") {
    c.adc.bits = 0;
    c.adc.noise_sigma_lsb = 0;
  }
  const auto out = reads_at_1_and_2_threads(c, W, X);
  CHECK((out[0].array() == out[2].array()).all());
  CHECK((out[1].array() == out[3].array()).all());
  CHECK_FALSE((out[0].array() == out[1].array()).all());  // read noise is fresh per read
}

TEST_CASE("ideal readout with weight slices (GEMMs summed directly): identical at 1 and 2 threads") {
  const RowMatrixXf W = random_matrix(130, 100, 5), X = random_matrix(200, 100, 6);
  XbarConfig c;
  c.mapping.tile_rows = c.mapping.tile_cols = 64;
  c.mapping.weight_bits = 7;
  c.mapping.cell_bits = 3;
  const auto out = reads_at_1_and_2_threads(c, W, X);
  CHECK((out[0].array() == out[2].array()).all());
  CHECK((out[0].array() == out[1].array()).all());  // no noise: repeated reads agree
}

TEST_CASE("bad inputs get typed errors naming the value") {
  XbarConfig c;
  AnalogLayer L(c);
  RowMatrixXf W = random_matrix(4, 5, 9);
  CHECK_THROWS_WITH_AS(L.read(random_matrix(2, 5, 1)), doctest::Contains("not programmed"), InputError);
  W(2, 3) = std::nanf("");
  CHECK_THROWS_WITH_AS(L.program(W), doctest::Contains("W[2][3]"), InputError);
  W(2, 3) = 1;
  L.program(W);
  CHECK_THROWS_WITH_AS(L.read(random_matrix(2, 6, 1)), doctest::Contains("6 columns"), InputError);
  RowMatrixXf X = random_matrix(2, 5, 1);
  X(1, 0) = INFINITY;
  CHECK_THROWS_WITH_AS(L.read(X), doctest::Contains("X[1][0]"), InputError);
  // A view into a wider matrix: the entries between its rows are not its own.
  RowMatrixXf wide = random_matrix(2, 8, 1);
  wide(0, 6) = std::nanf("");
  CHECK(L.read(wide.leftCols(5)).allFinite());
  wide(1, 4) = INFINITY;
  CHECK_THROWS_WITH_AS(L.read(wide.leftCols(5)), doctest::Contains("X[1][4]"), InputError);
  c.mapping.weight_bits = -1;
  CHECK_THROWS_WITH_AS(AnalogLayer{c}, doctest::Contains("mapping.weight_bits = -1"), ConfigError);
  XbarConfig d;
  d.adc.bits = 6;
  d.adc.range = AdcRange::calibrated;
  AnalogLayer M(d);
  M.program(W);
  CHECK_THROWS_WITH_AS(M.read(random_matrix(2, 5, 1)), doctest::Contains("calibrate"), InputError);
}
