#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "common/rng.h"

using namespace xbar;

TEST_CASE("counter RNG draws are a pure function of key, stream and index") {
  const CounterRng a(make_key(7, 1), 3), b(make_key(7, 1), 3), c(make_key(8, 1), 3), d(make_key(7, 1), 4);
  for (uint64_t i = 0; i < 100; ++i) {
    CHECK(a.normal(i) == b.normal(i));
    CHECK(a.uniform(i) == b.uniform(i));
  }
  int same_c = 0, same_d = 0;
  for (uint64_t i = 0; i < 100; ++i) {
    same_c += a.normal(i) == c.normal(i);
    same_d += a.normal(i) == d.normal(i);
  }
  CHECK(same_c == 0);
  CHECK(same_d == 0);
}

TEST_CASE("normal draws have mean 0, variance 1, and uniform draws mean 1/2") {
  // n = 1e6: standard error of the mean 1e-3, of the variance sqrt(2/n) = 1.4e-3;
  // tolerances are 5 standard errors.
  const CounterRng r(make_key(42));
  const int n = 1000000;
  double s = 0, s2 = 0, s4 = 0, u = 0;
  for (int i = 0; i < n; ++i) {
    const double z = r.normal(uint64_t(i));
    s += z;
    s2 += z * z;
    s4 += z * z * z * z;
    u += r.uniform(uint64_t(i));
  }
  CHECK(std::abs(s / n) < 5e-3);
  CHECK(std::abs(s2 / n - 1) < 7e-3);
  CHECK(std::abs(s4 / n - 3) < 0.05);  // Gaussian kurtosis; se of 4th moment sqrt(96/n) ~ 0.01
  CHECK(std::abs(u / n - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
}

TEST_CASE("cos_negative is the sign of the Box-Muller cosine for every angle word near its sign changes and on a grid") {
  // The cosine changes sign at angle words 2^30 and 3 2^30: 4096 words on each side of both, the
  // ends, and every 4096th word of the 2^32.
  int64_t mismatch = 0, checked = 0;
  auto check = [&](uint32_t w) {
    mismatch += CounterRng::cos_negative(w) != (std::cos(CounterRng::kTwoPi * CounterRng::unit(w)) < 0);
    ++checked;
  };
  for (uint32_t edge : {0x40000000u, 0xC0000000u})
    for (uint32_t d = 0; d < 4096; ++d) check(edge + d), check(edge - 1 - d);
  for (uint32_t w : {0u, 1u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFEu, 0xFFFFFFFFu}) check(w);
  for (uint64_t w = 7; w < (uint64_t(1) << 32); w += 4096) check(uint32_t(w));
  CHECK(checked == 4 * 4096 + 6 + (uint64_t(1) << 20));
  CHECK(mismatch == 0);
}

TEST_CASE("cos_negative of block i's angle word is the sign of normal(i), and 0 x normal(i) the signed zero it predicts") {
  const CounterRng rng(make_key(3, 8), 2);
  int64_t negative = 0, mismatch = 0;
  const int64_t n = 1000000;
  for (uint64_t i = 0; i < uint64_t(n); ++i) {
    const double z = rng.normal(i);
    uint32_t w[4];
    rng.block(i, w);
    const bool neg = CounterRng::cos_negative(w[1]);
    mismatch += neg != (z < 0);
    mismatch += std::signbit(float(0.0 * z)) != neg;
    negative += neg;
  }
  CHECK(mismatch == 0);
  CHECK(std::abs(double(negative) / n - 0.5) < 5 * 0.5 / std::sqrt(double(n)));  // both signs occur
}

TEST_CASE("batched Philox blocks equal the scalar ones") {
  const uint64_t key = make_key(9, 4);
  std::vector<uint32_t> w(4 * 37);
  philox_blocks(key, 5, 1000, 37, w.data());  // 37: two full lanes of 16 and a partial one
  for (uint64_t i = 0; i < 37; ++i) {
    uint32_t s[4];
    Philox::block(key, 5, 1000 + i, s);
    for (int k = 0; k < 4; ++k) CHECK(w[4 * i + k] == s[k]);
  }
}

TEST_CASE("Philox blocks at listed counters equal the scalar ones") {
  // Scattered counters, a repeat, both 32-bit halves of the low counter word in use, and a
  // counter whose upper half is all ones (the vector path carries 64-bit lanes).
  const uint64_t key = make_key(3, 8);
  uint64_t idx[16];
  for (int l = 0; l < 16; ++l) idx[l] = uint64_t(l) * 977 + (uint64_t(l % 3) << 33);
  idx[5] = idx[2];
  idx[15] = 0xFFFFFFFF00000007ull;
  uint32_t c[4][16];
  CounterRng(key, 11).lanes16_at(idx, c);
  for (int l = 0; l < 16; ++l) {
    uint32_t s[4];
    Philox::block(key, 11, idx[l], s);
    for (int k = 0; k < 4; ++k) CHECK(c[k][l] == s[k]);
  }
}

TEST_CASE("Philox4x32-10 matches the Random123 known-answer vector, scalar and in 16 lanes") {
  // Random123 kat_vectors: philox4x32 10 rounds, counter {0,0,0,0}, key {0,0}.
  const uint32_t expect[4] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u};
  uint32_t s[4], c[4][16];
  Philox::block(0, 0, 0, s);
  philox_lanes16(0, 0, 0, c);
  for (int k = 0; k < 4; ++k) {
    CHECK(s[k] == expect[k]);
    CHECK(c[k][0] == expect[k]);
  }
}
