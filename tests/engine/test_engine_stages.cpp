// The engine's stages seen from outside: array ids, read indices, the counters table, and a read
// leaving the process's thread settings alone.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <string>

#include "engine/analog_layer.h"
#include "engine/array_id.h"
#include "engine/layer_counters.h"

#include "tests/engine/engine_test_support.h"

using namespace xbar;
using xbar::test::random_matrix;
using xbar::test::same_bits;

namespace {
XbarConfig noisy_config() {
  XbarConfig c;
  c.device.model = DeviceKind::pcm;
  c.dac.bits = 8;
  c.adc.bits = 8;
  c.adc.noise_sigma_lsb = 0.5;
  c.mapping.tile_rows = c.mapping.tile_cols = 32;
  return c;
}
}  // namespace

TEST_CASE("array ids pack (tile row, tile column, slice, member) and reject fields that do not fit") {
  CHECK(ArrayId{0, 0, 0, 0}.packed() == 0);
  CHECK(ArrayId{0, 0, 0, 1}.packed() == 1);
  CHECK(ArrayId{0, 0, 1, 0}.packed() == 2);
  CHECK(ArrayId{0, 1, 0, 0}.packed() == 128);
  CHECK(ArrayId{1, 0, 0, 0}.packed() == 65536ull * 128);
  CHECK(ArrayId{3, 5, 7, 1}.packed() == ((3ull * 65536 + 5) * 64 + 7) * 2 + 1);
  CHECK_THROWS_WITH_AS(ArrayId({0, 65536, 0, 0}).packed(), doctest::Contains("tile column 65536"), InputError);
  CHECK_THROWS_AS(ArrayId({0, 0, 64, 0}).packed(), InputError);
  CHECK_THROWS_AS(ArrayId({0, 0, 0, 2}).packed(), InputError);
}

TEST_CASE("the read index continues a read-noise stream; counters count reads since programming") {
  const RowMatrixXf W = random_matrix(40, 70, 1), X = random_matrix(9, 70, 2);
  AnalogLayer a(noisy_config()), b(noisy_config());
  a.program(W);
  b.program(W);
  RowMatrixXf ya;
  for (int r = 0; r < 4; ++r) ya = a.read(X);
  CHECK(a.read_index() == 4);
  CHECK(a.counters().reads == 4);
  b.set_read_index(3);  // the fourth read of a
  const RowMatrixXf yb = b.read(X);
  CHECK(same_bits(ya, yb));
  CHECK(b.counters().reads == 1);
  CHECK(b.read_index() == 4);
  CHECK(!same_bits(yb, b.read(X)));  // the next read draws fresh noise
  b.program(W);
  CHECK(b.read_index() == 0);
  CHECK(b.counters().reads == 0);
}

TEST_CASE("drift-compensation reference reads neither shift the user's reads nor count") {
  const RowMatrixXf W = random_matrix(40, 70, 3), X = random_matrix(9, 70, 4);
  XbarConfig off = noisy_config(), on = noisy_config();
  on.drift_compensation.mode = DriftCompensationMode::column;
  off.run.t_inference_s = on.run.t_inference_s = 86400;
  AnalogLayer a(off), b(on);
  a.program(W);
  b.program(W);
  a.read(X);
  b.read(X);
  CHECK(a.counters().conversions == b.counters().conversions);
  CHECK(b.counters().conversions == 9 * 40 * 3);  // batch x outputs x 3 row tiles (70 inputs on 32 rows)
  // Second read: compensated = uncompensated x factor per column (one rounding), same noise.
  const RowMatrixXf ya = a.read(X), yb = b.read(X);
  CHECK(b.counters().drift_factor > 1.0);
  // Tolerance: the factor is estimated from the column's largest output (float rounding 1e-6).
  int agree = 0;
  for (Eigen::Index j = 0; j < ya.cols(); ++j) {
    Eigen::Index top;
    const double m = ya.col(j).cwiseAbs().maxCoeff(&top);
    const double f = double(yb(top, j)) / double(ya(top, j));
    bool col = true;
    for (Eigen::Index i = 0; i < ya.rows(); ++i) col = col && std::abs(double(yb(i, j)) - f * double(ya(i, j))) <= 1e-5 * m;
    agree += col;
  }
  CHECK(agree == ya.cols());
}

TEST_CASE("a read leaves Eigen's and OpenMP's thread settings as it found them") {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  const int eigen_before = Eigen::nbThreads();
  REQUIRE(eigen_before == 2);  // Eigen follows OpenMP unless pinned
  XbarConfig c = noisy_config();
  for (int threads : {1, 2}) {
    c.run.threads = threads;
    AnalogLayer L(c);
    L.program(random_matrix(64, 64, 5));
    L.read(random_matrix(300, 64, 6));
    CHECK(Eigen::nbThreads() == eigen_before);
    CHECK(omp_get_max_threads() == 2);
  }
  omp_set_num_threads(saved);
}

TEST_CASE("reads are bit-identical at any thread count") {
  const RowMatrixXf W = random_matrix(300, 200, 7), X = random_matrix(700, 200, 8);
  RowMatrixXf y[2];
  for (int threads : {1, 2}) {
    XbarConfig c = noisy_config();
    c.device.read_noise_scale = 1;
    c.run.threads = threads;
    AnalogLayer L(c);
    L.program(W);
    y[threads - 1] = L.read(X);
  }
  CHECK(same_bits(y[0], y[1]));
}

TEST_CASE("the counters table lists every field once and combines them by its rule") {
  std::set<std::string> names;
  for (const CounterField& f : counter_fields()) names.insert(f.name);
  CHECK(names.size() == counter_fields().size());
  // Every field is 8 bytes: a field missing from the table shows as a size mismatch.
  CHECK(sizeof(LayerCounters) == 8 * counter_fields().size());

  LayerCounters total, a, b;
  a.tiles = 4, b.tiles = 2;                       // max
  a.conversions = 100, b.conversions = 23;        // sum
  a.digital_weights = 7, b.digital_weights = 3;   // max
  a.drift_factor = 1.25, b.drift_factor = 1.5;    // last
  a.ir_drop_severity = 0.1, b.ir_drop_severity = 0.05;  // max
  merge_counters(total, a);
  merge_counters(total, b);
  CHECK(total.tiles == 4);
  CHECK(total.conversions == 123);
  CHECK(total.digital_weights == 7);
  CHECK(total.drift_factor == 1.5);
  CHECK(total.ir_drop_severity == 0.1);
  for (const CounterField& f : counter_fields())
    if (std::string(f.name) == "conversions") CHECK(counter_value(total, f) == 123.0);
}
