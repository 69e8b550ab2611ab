// Inputs at the edges: empty batches with calibrated ADC ranges, and outputs that leave float32
// range (an error naming the stage, never a silent inf).
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <string>

#include "common/error.h"
#include "engine/analog_layer.h"

#include "tests/engine/engine_test_support.h"

using namespace xbar;
using xbar::test::random_matrix;
using xbar::test::same_bits;

namespace {
XbarConfig calibrated_config(DriftCompensationMode mode) {
  XbarConfig c;
  c.device.model = DeviceKind::pcm;
  c.dac.bits = 8;
  c.adc.bits = 6;
  c.adc.range = AdcRange::calibrated;
  c.drift_compensation.mode = mode;
  c.mapping.tile_rows = c.mapping.tile_cols = 16;
  return c;
}
}  // namespace

TEST_CASE("calibrated ADC: an empty batch reads an empty output and sets no range") {
  for (auto mode : {DriftCompensationMode::none, DriftCompensationMode::global, DriftCompensationMode::column}) {
    INFO("drift_compensation.mode " << enum_name(mode));
    const XbarConfig cfg = calibrated_config(mode);
    const RowMatrixXf W = random_matrix(20, 40, 1), X = random_matrix(8, 40, 2);
    const RowMatrixXf empty(0, 40);
    AnalogLayer reference(cfg), layer(cfg);
    reference.program(W);
    layer.program(W);
    // Before calibration: an empty read is 0 x out; a non-empty one is refused.
    const RowMatrixXf Y0 = layer.read(empty);
    CHECK(Y0.rows() == 0);
    CHECK(Y0.cols() == 20);
    CHECK_THROWS_WITH_AS(layer.read(X), doctest::Contains("calibrate() was not run"), InputError);
    // Calibration from no inputs would be arbitrary: refused, and the layer stays uncalibrated.
    CHECK_THROWS_WITH_AS(layer.calibrate(empty), doctest::Contains("X has 0 rows"), InputError);
    CHECK_THROWS_AS(layer.read(X), InputError);
    // The empty reads left no trace: the same bits as a layer that never saw them.
    layer.calibrate(X);
    reference.calibrate(X);
    CHECK(layer.adc_lsbs() == reference.adc_lsbs());
    CHECK(same_bits(layer.read(X), reference.read(X)));
    CHECK(layer.read(empty).rows() == 0);
    CHECK(same_bits(layer.read(X), reference.read(X)));
  }
}

TEST_CASE("an output beyond float32 range is an error naming the entry and the stage") {
  // |W|, |x| ~ 1e38: every product is ~1e76, far beyond float32's 3.4e38. The arrays see
  // normalized values, so the digital unscaling is where it leaves the range.
  XbarConfig cfg;
  cfg.dac.bits = 8;
  cfg.adc.bits = 8;
  AnalogLayer layer(cfg);
  layer.program(random_matrix(4, 6, 3, 1e38f));
  CHECK_THROWS_WITH_AS(layer.read(random_matrix(2, 6, 4, 1e38f)),
                       doctest::Contains("is not finite; first non-finite stage: digital unscaling"), InputError);
  // Large values whose products stay representable (6 x 1e36) still read.
  AnalogLayer moderate(cfg);
  moderate.program(random_matrix(4, 6, 3, 1e18f));
  CHECK(moderate.read(random_matrix(2, 6, 4, 1e18f)).allFinite());
}
