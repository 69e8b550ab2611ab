#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/normal_fill.h"

using namespace xbar;

namespace {
// Independent reference for normal i: scalar Philox::block words and libm Box-Muller in double
// on the same 23-bit radius / 24-bit angle uniforms (layout documented in normal_group64).
double reference_normal(uint64_t key, uint64_t sub, uint64_t i) {
  const uint64_t g = i / 64, j = i % 64, h = j / 32, l = j % 16;
  uint32_t w[4];
  Philox::block(key, sub, 16 * g + l, w);
  const double u = (double(w[2 * h] >> 9) + 0.5) / 8388608.0;
  const double a = double(w[2 * h + 1] >> 8) * (6.283185307179586 / 16777216.0);
  const double r = std::sqrt(-2.0 * std::log(u));
  return (j % 32) < 16 ? r * std::cos(a) : r * std::sin(a);
}
}  // namespace

TEST_CASE("fast normals equal double-precision Box-Muller on the same Philox words") {
  // Tolerance 4e-6: float log/sin/cos polynomials truncate below 1e-8; the rest is a few float
  // roundings of values below 6 (6 * 6e-8 each).
  const uint64_t key = make_key(3, 1), sub = 17;
  const CounterRng rng(key, sub);
  const int64_t n = 200003;
  std::vector<float> z(n);
  fill_normal(rng, 5, n, z.data());  // starts inside a group of 64
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(double(z[i]) - reference_normal(key, sub, 5 + uint64_t(i))));
  CHECK(worst < 4e-6);
}

TEST_CASE("normal i of a stream does not depend on how the range is split into calls") {
  const CounterRng rng(make_key(8), 2);
  std::vector<float> whole(1000), parts(1000);
  fill_normal(rng, 37, 1000, whole.data());
  int64_t at = 0;
  for (int64_t len : {1, 63, 64, 65, 200, 7, 600}) {
    fill_normal(rng, 37 + uint64_t(at), len, parts.data() + at);
    at += len;
  }
  REQUIRE(at == 1000);
  CHECK(whole == parts);
}

TEST_CASE("fast normals have the moments and distribution of N(0, 1)") {
  // n = 2^21: se of the mean 7e-4, of the variance 1e-3, of the 4th moment 7e-3; tolerances are
  // 5 se. Kolmogorov-Smirnov distance against Phi: 1.95 / sqrt(n) = 1.3e-3 is the 0.1% critical
  // value. Cos and sin of one pair are uncorrelated (se of the correlation 1e-3).
  const int64_t n = int64_t(1) << 21;
  std::vector<float> z(n);
  fill_normal(CounterRng(make_key(42), 0), 0, n, z.data());
  double s = 0, s2 = 0, s4 = 0, cs = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = z[i];
    s += v;
    s2 += v * v;
    s4 += v * v * v * v;
    if (i % 32 < 16) cs += v * z[i + 16];
  }
  CHECK(std::abs(s / n) < 5 * 7e-4);
  CHECK(std::abs(s2 / n - 1) < 5 * 1e-3);
  CHECK(std::abs(s4 / n - 3) < 5 * 7e-3);
  CHECK(std::abs(cs / (n / 2)) < 5 * 1.4e-3);
  std::sort(z.begin(), z.end());
  double d = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double phi = 0.5 * std::erfc(-z[i] / std::sqrt(2.0));
    d = std::max({d, std::abs(phi - double(i) / n), std::abs(phi - double(i + 1) / n)});
  }
  CHECK(d < 1.95 / std::sqrt(double(n)));
}
