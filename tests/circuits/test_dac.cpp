#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>

#include "circuits/dac.h"

using namespace xbar;

TEST_CASE("unquantized DAC scales each vector by its abs-max") {
  DacConfig c;
  RowMatrixXf x(2, 3);
  x << 1, -2, 0.5, 0, 0, 0;
  const DacOutput o = dac_convert(c, x);
  CHECK(o.scale[0] == 2.0f);
  CHECK(o.scale[1] == 1.0f);  // all-zero vector
  CHECK(o.stacked(0, 1) == -1.0f);
  CHECK(o.stacked(0, 2) == 0.25f);
  CHECK(o.weight.size() == 1);
}

TEST_CASE("signed quantization rounds to 2^(bits-1)-1 levels per polarity") {
  DacConfig c;
  c.bits = 4;  // levels k/7
  RowMatrixXf x(1, 4);
  x << 1.0f, 0.5f, -0.3f, 0.07f;
  const DacOutput o = dac_convert(c, x);
  // Independent reference: round(v * 7) / 7.
  for (int i = 0; i < 4; ++i) CHECK(o.stacked(0, i) == doctest::Approx(std::round(x(0, i) * 7.0) / 7.0).epsilon(1e-7));
}

TEST_CASE("every code of a 2..24-bit DAC is the float nearest code / levels") {
  // Independent reference: the quotient m / levels in double, rounded to float. Up to 20 bits
  // through dac_convert on a row holding every level (and 1.0, so the row's scale is 1); the
  // wider ones (up to 16M codes) through the same product the conversion uses.
  for (int bits = 2; bits <= 24; ++bits) {
    const double levels = std::ldexp(1.0, bits - 1) - 1.0;
    const int64_t L = int64_t(levels);
    int64_t bad = 0;
    if (bits <= 20) {
      DacConfig c;
      c.bits = bits;
      RowMatrixXf x(1, 2 * L + 2);
      for (int64_t m = -L; m <= L; ++m) x(0, m + L) = float(double(m) / levels);
      x(0, 2 * L + 1) = 1.0f;
      const DacOutput o = dac_convert(c, x);
      REQUIRE(o.scale[0] == 1.0f);
      for (int64_t m = -L; m <= L; ++m) bad += o.stacked(0, m + L) != float(double(m) / levels);
    } else {
      const double inv = 1.0 / levels;
      for (int64_t m = 0; m <= L; ++m) bad += float(double(m) * inv) != float(double(m) / levels);
    }
    INFO("bits " << bits);
    CHECK(bad == 0);
  }
}

TEST_CASE("bit-serial slices recombine to the quantized input exactly") {
  DacConfig c;
  c.bits = 9;
  c.slice_bits = 1;
  CHECK(c.slices() == 8);
  c.slice_bits = 3;
  CHECK(c.slices() == 3);  // 8 magnitude bits in 3 slices of 3
  RowMatrixXf x = RowMatrixXf::Random(5, 17);
  DacConfig whole = c;
  whole.slice_bits = 0;
  const DacOutput a = dac_convert(c, x), b = dac_convert(whole, x);
  const int B = 5;
  for (int r = 0; r < B; ++r)
    for (int i = 0; i < 17; ++i) {
      double sum = 0;
      for (int k = 0; k < 3; ++k) {
        const double v = a.stacked(k * B + r, i);
        CHECK(std::abs(std::abs(v) * 7 - std::round(std::abs(v) * 7)) < 1e-6);  // slice digit 0..7
        sum += a.weight[k] * v;
      }
      CHECK(sum == doctest::Approx(b.stacked(r, i)).epsilon(1e-6));
    }
}

TEST_CASE("static range clips and counts; unsigned DAC clips negatives") {
  DacConfig c;
  c.range = DacRange::static_;
  c.static_range = 2.0;
  RowMatrixXf x(1, 4);
  x << 3.0f, -5.0f, 1.0f, -1.0f;
  DacOutput o = dac_convert(c, x);
  CHECK(o.clipped == 2);
  CHECK(o.stacked(0, 0) == 1.0f);
  CHECK(o.stacked(0, 1) == -1.0f);
  CHECK(o.stacked(0, 2) == 0.5f);
  c.is_signed = false;
  o = dac_convert(c, x);
  CHECK(o.clipped == 3);
  CHECK(o.stacked(0, 3) == 0.0f);
}

TEST_CASE("invalid DAC configs name the field") {
  DacConfig c;
  c.bits = 1;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("dac.bits"), ConfigError);
  c = DacConfig{};
  c.slice_bits = 2;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("dac.slice_bits"), ConfigError);
  c = DacConfig{};
  c.bits = -3;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("dac.bits = -3"), ConfigError);
}
