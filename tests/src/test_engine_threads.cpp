// Every compute path of the engine gives bit-identical reads at 1 and 2 threads (work items and
// random streams depend on the shapes and indices only), and fresh read noise per read.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "src/analog_layer.h"

using namespace xbar;

namespace {
RowMatrixXf gaussian_matrix(int r, int c, unsigned seed) {
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
}  // namespace

TEST_CASE("bit-serial, offset mapping, weight slices and read noise: identical at 1 and 2 threads") {
  // 300 batch rows: one 256-row chunk and a partial one; 150 outputs: 3 column tiles of 64.
  const RowMatrixXf W = gaussian_matrix(150, 140, 3), X = gaussian_matrix(300, 140, 4);
  XbarConfig c;
  c.device.model = "pcm";  // programming and read noise
  c.mapping.tile_rows = c.mapping.tile_cols = 64;
  c.mapping.mapping = "offset";  // reference column: one shared normal per read row
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
  const RowMatrixXf W = gaussian_matrix(130, 100, 5), X = gaussian_matrix(200, 100, 6);
  XbarConfig c;
  c.mapping.tile_rows = c.mapping.tile_cols = 64;
  c.mapping.weight_bits = 7;
  c.mapping.cell_bits = 3;
  const auto out = reads_at_1_and_2_threads(c, W, X);
  CHECK((out[0].array() == out[2].array()).all());
  CHECK((out[0].array() == out[1].array()).all());  // no noise: repeated reads agree
}
