// A read whose rows come from a RowSource (filled and converted a block at a time, as a
// convolution's patches are) against read(X) of the same rows on a second layer of the same
// chip: the same outputs and counters, bit for bit, every row filled exactly once, and input
// errors that name the row of X and leave the layer as it was.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/analog_layer.h"
#include "engine/layer_counters.h"

#include "tests/engine/engine_test_support.h"

using namespace xbar;
using xbar::test::random_matrix;
using xbar::test::same_bits;

namespace {
// PCM (programming noise, drift, read noise), 8-bit DAC, noisy 8-bit ADC with a fixed range,
// 128 x 8 tiles: 300 inputs x 20 outputs span 3 x 3 tiles.
XbarConfig source_config() {
  XbarConfig c;
  c.device.model = DeviceKind::pcm;
  c.dac.bits = 8;
  c.adc.bits = 8;
  c.adc.noise_sigma_lsb = 0.5;
  c.mapping.tile_rows = 128;
  c.mapping.tile_cols = 8;
  c.run.t_inference_s = 10;
  return c;
}

// The rows of X as a source, recording how often each row is filled.
struct RecordingSource {
  const RowMatrixXf& X;
  std::vector<int> fills;
  RowSource source() {
    fills.assign(size_t(X.rows()), 0);
    return RowSource{X.rows(), X.cols(), [this](Eigen::Index first, Eigen::Index n, float* out) {
                       Eigen::Map<RowMatrixXf>(out, n, X.cols()) = X.middleRows(first, n);
                       for (Eigen::Index r = first; r < first + n; ++r) ++fills[size_t(r)];
                     }};
  }
};

bool same_counters(const LayerCounters& a, const LayerCounters& b) {
  for (const CounterField& f : counter_fields())
    if (counter_value(a, f) != counter_value(b, f)) {
      MESSAGE("counter " << f.name << ": " << counter_value(a, f) << " vs " << counter_value(b, f));
      return false;
    }
  return true;
}
}  // namespace

TEST_CASE("a read from a RowSource equals read(X), bit for bit, filling each row once") {
  struct Case {
    const char* name;
    void (*edit)(XbarConfig&);
  };
  const Case cases[] = {
      {"read and ADC noise, 3 x 3 tiles", [](XbarConfig&) {}},
      {"bit-sliced inputs and weights", [](XbarConfig& c) {
         c.dac.slice_bits = 2;
         c.mapping.weight_bits = 8;
         c.mapping.cell_bits = 4;
       }},
      {"offset mapping (reference column noise)", [](XbarConfig& c) { c.mapping.mapping = SignedMapping::offset; }},
      {"static DAC range (clipping counted)", [](XbarConfig& c) {
         c.dac.range = DacRange::static_;
         c.dac.static_range = 0.5;
       }},
      {"ideal ADC, no read noise", [](XbarConfig& c) {
         c.adc.bits = 0;
         c.adc.noise_sigma_lsb = 0;
         c.device.read_noise_scale = 0;
       }},
      {"two threads", [](XbarConfig& c) { c.run.threads = 2; }},
  };
  // 300 inputs: a block is 3 batch chunks of 256 rows (kSourceBlockBytes); 2000 rows make 3
  // blocks, the last one partial, and a row count that is no multiple of the chunk.
  const RowMatrixXf W = random_matrix(20, 300, 1), X = random_matrix(2000, 300, 2), X2 = random_matrix(5, 300, 3);
  REQUIRE(kSourceBlockBytes / (256 * 300 * 4) == 3);
  for (const Case& k : cases) {
    CAPTURE(k.name);
    XbarConfig c = source_config();
    k.edit(c);
    AnalogLayer a(c), b(c);
    a.program(W, nullptr, 5);
    b.program(W, nullptr, 5);
    RecordingSource rec{X, {}};
    const RowMatrixXf ya = a.read(rec.source()), yb = b.read(X);
    CHECK(same_bits(ya, yb));
    CHECK(same_counters(a.counters(), b.counters()));
    CHECK(std::count(rec.fills.begin(), rec.fills.end(), 1) == X.rows());
    // The read advanced the noise stream as read(X) does: the next reads agree too.
    RecordingSource rec2{X2, {}};
    CHECK(same_bits(a.read(rec2.source()), b.read(X2)));
    CHECK(same_bits(a.read(X), b.read(X)));
  }
}

TEST_CASE("a RowSource read: a non-finite row names its row of X and leaves the layer unchanged") {
  const XbarConfig c = source_config();
  const RowMatrixXf W = random_matrix(20, 300, 1), X = random_matrix(2000, 300, 2);
  RowMatrixXf bad = X;
  bad(1500, 7) = std::nanf("");  // in the second block
  AnalogLayer a(c), b(c);
  a.program(W, nullptr, 5);
  b.program(W, nullptr, 5);
  RecordingSource rec{bad, {}};
  std::string what;
  try {
    a.read(rec.source());
  } catch (const InputError& e) {
    what = e.what();
  }
  CHECK(what.find("X[1500][7]") != std::string::npos);
  CHECK(a.read_index() == 0);
  CHECK(a.counters().reads == 0);
  // The failed read drew nothing: the next read is the first read of the twin layer.
  CHECK(same_bits(a.read(X), b.read(X)));

  RowMatrixXf narrow = random_matrix(4, 299, 4);
  RecordingSource wrong{narrow, {}};
  CHECK_THROWS_WITH_AS(a.read(wrong.source()), "X has 299 columns, the layer has 300 inputs", InputError);
}

TEST_CASE("a RowSource read with outlier weights takes the rows whole and equals read(X)") {
  XbarConfig c = source_config();
  c.outliers.weight_topk_percent = 2;
  const RowMatrixXf W = random_matrix(20, 300, 1), X = random_matrix(700, 300, 2);
  AnalogLayer a(c), b(c);
  a.program(W, nullptr, 5);
  b.program(W, nullptr, 5);
  RecordingSource rec{X, {}};
  CHECK(same_bits(a.read(rec.source()), b.read(X)));
  CHECK(same_counters(a.counters(), b.counters()));
  CHECK(a.counters().digital_weights > 0);
}

TEST_CASE("a RowSource read of 0 rows gives 0 x out and reads nothing") {
  const XbarConfig c = source_config();
  AnalogLayer a(c);
  a.program(random_matrix(20, 300, 1), nullptr, 5);
  const RowMatrixXf none(0, 300);
  RecordingSource rec{none, {}};
  const RowMatrixXf y = a.read(rec.source());
  CHECK(y.rows() == 0);
  CHECK(y.cols() == 20);
  CHECK(a.read_index() == 0);
}
