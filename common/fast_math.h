// Float elementary functions that vectorize (plain arithmetic and bit casts, no libm calls, no
// errno): the per-cell device pipeline (programming, drift, read noise, normal draws) runs them on
// 16 cells at a time. Accuracy (tests/common/test_fast_math.cpp checks each against libm in
// double): log within 2 float ulps of ln(u) plus 1e-7 absolute, exp within 4e-7 relative, sin/cos
// within 2e-7 absolute.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace xbar::fastm {

// ln(u) for a normal float u > 0: exponent + atanh series of the mantissa in [sqrt(1/2),
// sqrt(2)) (truncation < 3e-9).
inline float log_pos(float u) {
  uint32_t b;
  std::memcpy(&b, &u, 4);
  const uint32_t mb = (b & 0x7FFFFFu) | 0x3F800000u;
  float m;
  std::memcpy(&m, &mb, 4);  // mantissa in [1, 2)
  const bool big = m > 1.41421356f;
  m *= big ? 0.5f : 1.0f;  // [sqrt(1/2), sqrt(2)): |t| < 0.172 below (a multiply in both branches vectorizes)
  const float e = float(int(b >> 23) - 127 + (big ? 1 : 0));
  const float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
  const float lm = 2.0f * t * (1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7 + t2 * (1.0f / 9)))));
  // ln 2 split so e * ln2_hi is exact.
  return e * 0.693145751953125f + (e * 1.428606820309417e-6f + lm);
}

// e^x for x in [-87, 88] (clamped there: the result stays a normal float). x = n ln 2 + r with
// |r| <= ln(2) / 2, e^r by its degree-7 Taylor polynomial (truncation < 2e-8); exp(0) is exactly 1.
// n is rounded by adding 1.5 * 2^23 (its low mantissa bits then hold n), which keeps the function
// free of conversions and branches so loops over it vectorize.
inline float exp_f(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float t = x * 1.44269504f + 12582912.0f;
  const float fn = t - 12582912.0f;
  uint32_t tb;
  std::memcpy(&tb, &t, 4);
  const float r = (x - fn * 0.693145751953125f) - fn * 1.428606820309417e-6f;
  const float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 +
                  r * (1.0f / 720 + r * (1.0f / 5040)))))));
  const uint32_t eb = (tb - 0x4B400000u + 127u) << 23;  // bits of 2^n
  float s;
  std::memcpy(&s, &eb, 4);
  return p * s;
}

// sin and cos of 2 pi k / 2^24 for a 24-bit k: quadrant (top 2 bits) plus f in [0, pi/2) by
// Taylor polynomials (truncation < 1e-9).
inline void sincos_turn24(uint32_t k, float& s, float& c) {
  const uint32_t q = k >> 22;
  const float f = float(k & 0x3FFFFFu) * (1.5707963267948966f / 4194304.0f), f2 = f * f;
  const float sf = f * (1.0f + f2 * (-1.0f / 6 + f2 * (1.0f / 120 + f2 * (-1.0f / 5040 + f2 * (1.0f / 362880 +
                       f2 * (-1.0f / 39916800 + f2 * (1.0f / 6227020800.0f)))))));
  const float cf = 1.0f + f2 * (-0.5f + f2 * (1.0f / 24 + f2 * (-1.0f / 720 + f2 * (1.0f / 40320 +
                       f2 * (-1.0f / 3628800 + f2 * (1.0f / 479001600 + f2 * (-1.0f / 87178291200.0f)))))));
  // Rotate by q quarter turns: (sin, cos)(f + pi/2) = (cos f, -sin f); (f + pi) negates both.
  const bool odd = (q & 1u) != 0, neg = (q & 2u) != 0;
  s = odd ? cf : sf;
  c = odd ? -sf : cf;
  s = neg ? -s : s;
  c = neg ? -c : c;
}

// A 32-bit word as a uniform in (0, 1): its top 23 bits + 1/2 over 2^23 (exact in float; with 24
// bits the largest value would round to 1).
inline float unit_f(uint32_t w) { return (float(w >> 9) + 0.5f) * (1.0f / 8388608.0f); }

// Box-Muller radius squared, -2 ln u, from a word's uniform (finite: radii reach 5.8).
inline float bm_radius2(uint32_t w) { return -2.0f * log_pos(unit_f(w)); }

// max |x_i| over n finite floats (0 when n = 0): their magnitude bits order like the magnitudes as
// unsigned integers, and an integer maximum vectorizes (a float one does not without -ffast-math).
inline float abs_max(const float* x, size_t n) {
  uint32_t m = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t b;
    std::memcpy(&b, x + i, 4);
    m = std::max(m, b & 0x7FFFFFFFu);
  }
  float r;
  std::memcpy(&r, &m, 4);
  return r;
}

// x / r in double, correctly rounded (bit for bit the quotient), for x and r that are floats
// (r > 0 finite, inv_r = 1 / r in double), by a reciprocal product and one exact-residual
// correction, all multiplies and FMAs that vectorize (a divide does ~10x slower). Why it is exact:
// q = x inv_r is within 2 double ulps of x / r; e = x - q r is exact (FMA, no underflow for float
// operands); q + e inv_r is then within 2^-104 relative of x / r, while a quotient of two 24-bit
// significands lies at least 2^-78 relative from any double rounding midpoint (it cannot be one),
// so the FMA's single rounding is that of the quotient. x = 0 keeps its sign through q.
inline double div_floats(double x, double r, double inv_r) {
  const double q = x * inv_r;
  const double c = __builtin_fma(__builtin_fma(-q, r, x), inv_r, q);
  return x == 0 ? q : c;
}

}  // namespace xbar::fastm
