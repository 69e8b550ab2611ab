// calibrate_and_read (a forward that calibrates on its own batch, computing the array products
// and converting the inputs once) against calibrate then read on a second layer of the same chip:
// the same ADC ranges, outputs and counters, bit for bit, and the same again on the next read
// (nothing kept leaks).
#include <doctest/doctest.h>

#include "engine/analog_layer.h"

#include "tests/engine/engine_test_support.h"

using namespace xbar;
using xbar::test::random_matrix;
using xbar::test::same_bits;

namespace {
// PCM (programming noise, drift, read noise), calibrated 8-bit ADC with noise, small tiles.
XbarConfig calibrated_config() {
  XbarConfig c;
  c.device.model = DeviceKind::pcm;
  c.dac.bits = 8;
  c.adc.bits = 8;
  c.adc.range = AdcRange::calibrated;
  c.adc.percentile = 99.0;
  c.adc.noise_sigma_lsb = 0.5;
  c.mapping.tile_rows = 16;
  c.mapping.tile_cols = 8;
  c.run.t_inference_s = 10;
  return c;
}
}  // namespace

TEST_CASE("calibrate_and_read equals calibrate then read, bit for bit") {
  struct Case {
    const char* name;
    void (*edit)(XbarConfig&);
  };
  const Case cases[] = {
      {"read noise, several row and column tiles", [](XbarConfig&) {}},
      {"bit-sliced inputs and weights", [](XbarConfig& c) {
         c.dac.slice_bits = 2;
         c.mapping.weight_bits = 8;
         c.mapping.cell_bits = 4;
       }},
      {"offset mapping (reference column noise)", [](XbarConfig& c) { c.mapping.mapping = SignedMapping::offset; }},
      {"no read noise", [](XbarConfig& c) { c.device.read_noise_scale = 0; }},
      {"two threads", [](XbarConfig& c) { c.run.threads = 2; }},
      {"drift compensation (reference reads between calibration and read)",
       [](XbarConfig& c) { c.drift_compensation.mode = DriftCompensationMode::column; }},
  };
  const RowMatrixXf W = random_matrix(20, 40, 1), X = random_matrix(300, 40, 2), X2 = random_matrix(7, 40, 3);
  for (const Case& k : cases) {
    CAPTURE(k.name);
    XbarConfig c = calibrated_config();
    k.edit(c);
    AnalogLayer a(c), b(c);
    a.program(W, nullptr, 5);
    b.program(W, nullptr, 5);
    const RowMatrixXf ya = a.calibrate_and_read(X);
    b.calibrate(X);
    const RowMatrixXf yb = b.read(X);
    CHECK(a.adc_lsbs() == b.adc_lsbs());
    CHECK(same_bits(ya, yb));
    CHECK(a.counters().saturations == b.counters().saturations);
    CHECK(a.counters().conversions == b.counters().conversions);
    CHECK(a.counters().saturations > 0);  // the 99th percentile range clips: not vacuous
    // The next reads (other inputs, then the same ones) are unchanged too.
    CHECK(same_bits(a.read(X2), b.read(X2)));
    CHECK(same_bits(a.read(X), b.read(X)));
  }
}

TEST_CASE("calibrate_and_read draws a user read's noise, not the calibration read's again") {
  XbarConfig c = calibrated_config();
  c.adc.noise_sigma_lsb = 0;
  AnalogLayer a(c), b(c);
  const RowMatrixXf W = random_matrix(20, 40, 1), X = random_matrix(50, 40, 2);
  a.program(W, nullptr, 5);
  b.program(W, nullptr, 5);
  const RowMatrixXf y1 = a.calibrate_and_read(X);
  b.calibrate(X);
  // Read 0 and read 1 of the same inputs differ only by read noise: so do y1 and b's read 1.
  const RowMatrixXf y0 = b.read(X), y_next = b.read(X);
  CHECK(same_bits(y1, y0));
  CHECK(!same_bits(y1, y_next));
}
