#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "circuits/adc.h"

using namespace xbar;
using RM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

TEST_CASE("quantization error is uniform with variance LSB^2/12") {
  // 200k signals spread over many LSBs: the error e = Q(y) - y should have mean 0 and variance
  // LSB^2/12 (se of the variance ~ LSB^2/12 * sqrt(0.8/n) = 0.2%); tolerance 2%.
  AdcConfig c;
  c.bits = 8;
  const double lsb = adc_lsb(c, 10.0, 0.0);
  CHECK(lsb == doctest::Approx(10.0 / 127));
  AdcBank bank;
  bank.draw(c, 1000, 1);
  RM y = RM::Random(200, 1000) * 9.0f;
  const RM y0 = y;
  const int64_t sat = adc_convert(c, lsb, bank, y, CounterRng(1), 0, 1000);
  CHECK(sat == 0);
  const Eigen::ArrayXXd e = (y - y0).cast<double>().array();
  CHECK(std::abs(e.mean()) < 0.01 * lsb);
  CHECK(e.square().mean() == doctest::Approx(lsb * lsb / 12).epsilon(0.02));
  CHECK(e.abs().maxCoeff() <= 0.5 * lsb * (1 + 1e-5));
}

TEST_CASE("signals beyond the range saturate and are counted") {
  AdcConfig c;
  c.bits = 4;  // codes -8 .. 7
  AdcBank bank;
  bank.draw(c, 4, 1);
  RM y(1, 4);
  y << 100.f, -100.f, 3.f, -8.6f;  // -8.6 rounds to code -9: one past the end
  const int64_t sat = adc_convert(c, 1.0, bank, y, CounterRng(1), 0, 4);
  CHECK(sat == 3);
  CHECK(y(0, 0) == 7.f);
  CHECK(y(0, 1) == -8.f);
  CHECK(y(0, 2) == 3.f);
  CHECK(y(0, 3) == -8.f);
}

TEST_CASE("worst-case LSB on an integer grid is a power-of-two multiple of the step") {
  AdcConfig c;
  c.bits = 10;  // 511 positive codes
  CHECK(adc_lsb(c, 448.0, 1.0) == 1.0);     // 448 <= 511: exact
  CHECK(adc_lsb(c, 1000.0, 1.0) == 2.0);    // needs 2 per code
  CHECK(adc_lsb(c, 2000.0, 0.5) == 4.0);    // 2000 / 511 = 3.9 -> 8 steps of 0.5
  c.range = AdcRange::calibrated;
  CHECK(adc_lsb(c, 511.0, 1.0) == 1.0);     // continuous rule
}

TEST_CASE("ADC offset, gain and noise have the configured statistics") {
  // 20000 columns: se of the std estimates ~0.5%; tolerance 3%.
  AdcConfig c;
  c.bits = 12;
  c.offset_sigma_lsb = 2.0;
  c.gain_sigma = 0.05;
  AdcBank bank;
  bank.draw(c, 20000, 9);
  Eigen::Map<Eigen::ArrayXf> off(bank.offset_lsb.data(), 20000), gain(bank.gain.data(), 20000);
  const double so = std::sqrt((off - off.mean()).square().mean());
  const double sg = std::sqrt((gain - gain.mean()).square().mean());
  CHECK(so == doctest::Approx(2.0).epsilon(0.03));
  CHECK(sg == doctest::Approx(0.05).epsilon(0.03));
  AdcConfig n;
  n.bits = 12;
  n.noise_sigma_lsb = 3.0;
  AdcBank nb;
  nb.draw(n, 20000, 9);
  RM y = RM::Constant(1, 20000, 0.0f);
  adc_convert(n, 1.0, nb, y, CounterRng(5), 0, 20000);
  const Eigen::ArrayXf e = Eigen::Map<Eigen::ArrayXf>(y.data(), 20000);
  // Rounded Gaussian noise: variance sigma^2 + 1/12.
  CHECK(std::sqrt((e - e.mean()).square().mean()) == doctest::Approx(std::sqrt(9.0 + 1.0 / 12)).epsilon(0.03));
}

TEST_CASE("an ADC bank with zero offset and gain sigmas holds sigma z bit for bit: gains 1, zeros signed as z") {
  // The reference is the drawing formula itself on normal2's draws: offset float(0 z0), gain
  // float(1 + 0 z1). The signed zeros matter: a zero signal plus -0 is -0, a code's sign.
  AdcConfig c;
  c.bits = 8;
  AdcBank bank;
  const int cols = 5000;
  bank.draw(c, cols, 11);
  const CounterRng rng(11);
  int mismatch = 0, negative = 0;
  for (int j = 0; j < cols; ++j) {
    double z0, z1;
    rng.normal2(uint64_t(j), z0, z1);
    const float off = float(c.offset_sigma_lsb * z0), gain = float(1.0 + c.gain_sigma * z1);
    mismatch += std::memcmp(&off, &bank.offset_lsb[size_t(j)], 4) != 0;
    mismatch += std::memcmp(&gain, &bank.gain[size_t(j)], 4) != 0;
    negative += std::signbit(bank.offset_lsb[size_t(j)]);
  }
  CHECK(mismatch == 0);
  CHECK(negative > cols / 3);
  CHECK(negative < 2 * cols / 3);
}

TEST_CASE("invalid ADC configs name the field") {
  AdcConfig c;
  c.bits = 1;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("adc.bits"), ConfigError);
  c = AdcConfig{};
  CHECK_THROWS_WITH_AS(set_field(c, "range", FieldValue(std::string("auto"))),
                       doctest::Contains("adc.range = \"auto\": must be one of: worst_case, fixed, calibrated"), ConfigError);
  c = AdcConfig{};
  c.noise_sigma_lsb = 1;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("adc.noise_sigma_lsb"), ConfigError);
}
