// The float elementary functions of common/fast_math.h against libm in double.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/fast_math.h"

using namespace xbar;

namespace {
float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
}  // namespace

TEST_CASE("fast log: within 2 float ulps of ln(u) plus 1e-7 over every exponent") {
  // Every 997th float from the smallest normal to the largest finite one (~4 million values). The
  // atanh series truncates below 3e-9; the rest is float rounding of terms up to 88 (ulp 7.6e-6 at
  // the top, hence the relative part) and of the mantissa's log (abs ~1e-7).
  double worst = 0;
  for (uint64_t b = 0x00800000u; b < 0x7F800000u; b += 997) {
    const float u = from_bits(uint32_t(b));
    const double ref = std::log(double(u)), got = fastm::log_pos(u);
    worst = std::max(worst, std::abs(got - ref) / (2.4e-7 * std::abs(ref) + 1e-7));
  }
  CHECK(worst <= 1.0);
  CHECK(fastm::log_pos(1.0f) == 0.0f);
}

TEST_CASE("fast exp: within 4e-7 relative over [-87, 88], exactly 1 at 0, clamped outside") {
  // 4e-7 = 3.4 float ulps: the Taylor polynomial truncates below 2e-8 on |r| <= ln(2)/2; the rest is
  // the rounding of the reduced argument and of Horner's steps.
  double worst = 0;
  for (int k = 0; k <= 1750000; ++k) {
    const float x = -87.0f + float(k) * 1e-4f;
    const double ref = std::exp(double(x));
    worst = std::max(worst, std::abs(double(fastm::exp_f(x)) - ref) / ref);
  }
  CHECK(worst < 4e-7);
  CHECK(fastm::exp_f(0.0f) == 1.0f);
  CHECK(fastm::exp_f(-0.0f) == 1.0f);
  CHECK(fastm::exp_f(-200.0f) == doctest::Approx(std::exp(-87.0)).epsilon(1e-6));
  CHECK(std::isfinite(fastm::exp_f(1000.0f)));
}

TEST_CASE("fast sin and cos of 2 pi k / 2^24: within 2e-7 of libm") {
  double worst = 0;
  for (uint32_t k = 0; k < (1u << 24); k += 251) {
    float s, c;
    fastm::sincos_turn24(k, s, c);
    const double a = double(k) * (6.283185307179586 / 16777216.0);
    worst = std::max({worst, std::abs(double(s) - std::sin(a)), std::abs(double(c) - std::cos(a))});
  }
  CHECK(worst < 2e-7);
}

TEST_CASE("uniforms from words are inside (0, 1) at both ends") {
  CHECK(fastm::unit_f(0u) > 0.0f);
  CHECK(fastm::unit_f(0xFFFFFFFFu) < 1.0f);
  CHECK(std::isfinite(fastm::bm_radius2(0u)));
  CHECK(fastm::bm_radius2(0xFFFFFFFFu) >= 0.0f);
}

TEST_CASE("abs_max: the largest magnitude, as a plain loop over std::abs finds it") {
  // Signs, signed zeros, subnormals, the largest finite float, lengths around a vector width.
  const float pool[] = {0.0f, -0.0f, 1.5f, -2.25f, 1e-40f, -3e-39f, 3.4028235e38f, -7.0f, 1e30f, -1e30f};
  uint32_t state = 12345u;
  for (size_t n = 0; n <= 70; ++n)
    for (int rep = 0; rep < 20; ++rep) {
      std::vector<float> x(n);
      for (auto& v : x) {
        state = state * 1664525u + 1013904223u;
        v = pool[(state >> 16) % (rep < 10 ? 6 : 10)];
      }
      float ref = 0.0f;
      for (float v : x) ref = std::max(ref, std::abs(v));
      const float got = fastm::abs_max(x.data(), n);
      CHECK(std::memcmp(&got, &ref, 4) == 0);
    }
}

TEST_CASE("div_floats: x / r bit for bit for float x and r, over every exponent and near-tie significands") {
  // Random significands and exponents (x from subnormal to r, r over the normal range), plus the
  // hard cases: r with all-ones significands, x = r (1 - k ulp), integer-valued x over r = 2 k + 1
  // (quotients near double midpoints), and signed zeros.
  std::mt19937_64 g(7);
  auto check = [](float x, float r) {
    const double got = fastm::div_floats(x, r, 1.0 / double(r)), want = double(x) / double(r);
    uint64_t a, b;
    std::memcpy(&a, &got, 8);
    std::memcpy(&b, &want, 8);
    return a == b;
  };
  int64_t bad = 0, n = 0;
  std::uniform_int_distribution<uint32_t> mant(0, (1u << 23) - 1), ex(1, 254), xex(0, 254);
  for (int k = 0; k < 4000000; ++k) {
    const float r = from_bits((ex(g) << 23) | mant(g));
    const float x = from_bits((uint32_t(g() & 1) << 31) | (xex(g) << 23) | mant(g));
    if (std::abs(x) > r) continue;  // the DAC divides by the abs-max: |x| <= r
    bad += !check(x, r);
    ++n;
  }
  for (uint32_t e = 1; e < 255; e += 3)
    for (uint32_t k = 0; k < 2000; ++k, ++n) {
      const float r = from_bits((e << 23) | 0x7FFFFFu);
      bad += !check(from_bits(((e << 23) | 0x7FFFFFu) - k), r);
      bad += !check(-from_bits((e << 23) | (k * 4099u % 0x7FFFFFu)), r);
    }
  for (int r = 1; r < 4000; r += 2)
    for (int x = -r; x <= r; x += 7, ++n) bad += !check(float(x), float(r)) + !check(float(x) * 0.5f, float(r) * 3.0f);
  CHECK(bad == 0);
  CHECK(n > 2000000);
  CHECK(std::signbit(fastm::div_floats(-0.0, 3.0, 1.0 / 3.0)));
  CHECK_FALSE(std::signbit(fastm::div_floats(0.0, 3.0, 1.0 / 3.0)));
}
