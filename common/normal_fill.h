// Fast vectorized standard normals from the counter RNG: Philox4x32-10 blocks in 16 lanes ->
// 24-bit uniforms -> Box-Muller with float log / sin / cos polynomials. Normal i of a stream is a
// pure function of (rng, i), never of threads or of how a range is split into calls.
//
// Accuracy (tests/common/test_normal_fill.cpp checks it against libm in double): the log is
// exponent + atanh series of the mantissa in [sqrt(1/2), sqrt(2)) (truncation < 3e-9), sin and cos
// are Taylor polynomials on a quarter turn (truncation < 1e-9), so each normal is within a few
// float roundings (abs < 2e-6) of exact Box-Muller on the same uniforms. Radius uniforms have 23 bits
// (radii reach 5.8 sigma; tail mass beyond it 8e-9), angles step 2 pi / 2^24.
#pragma once
#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common/rng.h"

namespace xbar {

namespace detail {

// ln(u) for a normal float u > 0.
inline float log_pos(float u) {
  uint32_t b;
  std::memcpy(&b, &u, 4);
  const uint32_t mb = (b & 0x7FFFFFu) | 0x3F800000u;
  float m;
  std::memcpy(&m, &mb, 4);  // mantissa in [1, 2)
  const bool big = m > 1.41421356f;
  m = big ? 0.5f * m : m;  // [sqrt(1/2), sqrt(2)): |t| < 0.172 below
  const float e = float(int(b >> 23) - 127 + (big ? 1 : 0));
  const float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
  const float lm = 2.0f * t * (1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7 + t2 * (1.0f / 9)))));
  // ln 2 split so e * ln2_hi is exact.
  return e * 0.693145751953125f + (e * 1.428606820309417e-6f + lm);
}

// 64 normals from Philox blocks 16 g .. 16 g + 15 (lanes l = 0..15): out[l] = r(w0) cos a(w1),
// out[16 + l] = r(w0) sin a(w1), out[32 + l] = r(w2) cos a(w3), out[48 + l] = r(w2) sin a(w3).
inline void normal_group64(const CounterRng& rng, uint64_t g, float* out) {
  uint32_t c[4][16];
  rng.lanes16(16 * g, c);
  for (int h = 0; h < 2; ++h) {
    const uint32_t* rw = c[2 * h];
    const uint32_t* aw = c[2 * h + 1];
    float* oc = out + 32 * h;
    float* os = oc + 16;
    // Radii: 23-bit uniforms (exact in float) in (0, 1), so the log is finite. Eigen's sqrt
    // vectorizes (std::sqrt's errno path would stop the loop from vectorizing).
    Eigen::Array<float, 16, 1> r2;
#pragma omp simd
    for (int l = 0; l < 16; ++l) r2[l] = -2.0f * log_pos((float(rw[l] >> 9) + 0.5f) * (1.0f / 8388608.0f));
    const Eigen::Array<float, 16, 1> r = r2.sqrt();
#pragma omp simd
    for (int l = 0; l < 16; ++l) {
      // Angle 2 pi k / 2^24 = quadrant q (top 2 bits) quarter turns + f in [0, pi/2).
      const uint32_t k = aw[l] >> 8, q = k >> 22;
      const float f = float(k & 0x3FFFFFu) * (1.5707963267948966f / 4194304.0f), f2 = f * f;
      const float sf = f * (1.0f + f2 * (-1.0f / 6 + f2 * (1.0f / 120 + f2 * (-1.0f / 5040 + f2 * (1.0f / 362880 +
                           f2 * (-1.0f / 39916800 + f2 * (1.0f / 6227020800.0f)))))));
      const float cf = 1.0f + f2 * (-0.5f + f2 * (1.0f / 24 + f2 * (-1.0f / 720 + f2 * (1.0f / 40320 +
                           f2 * (-1.0f / 3628800 + f2 * (1.0f / 479001600 + f2 * (-1.0f / 87178291200.0f)))))));
      // Rotate by q quarter turns: (sin, cos)(f + pi/2) = (cos f, -sin f); (f + pi) negates both.
      const bool odd = (q & 1u) != 0, neg = (q & 2u) != 0;
      float s = odd ? cf : sf, co = odd ? -sf : cf;
      s = neg ? -s : s;
      co = neg ? -co : co;
      oc[l] = r[l] * co;
      os[l] = r[l] * s;
    }
  }
}

}  // namespace detail

// out[i] = normal number first + i of the stream rng, for i < n.
inline void fill_normal(const CounterRng& rng, uint64_t first, int64_t n, float* out) {
  float buf[64];
  uint64_t i = first;
  const uint64_t end = first + uint64_t(n);
  while (i < end) {
    const uint64_t off = i % 64, take = std::min<uint64_t>(64 - off, end - i);
    if (take == 64) {
      detail::normal_group64(rng, i / 64, out);
    } else {
      detail::normal_group64(rng, i / 64, buf);
      std::memcpy(out, buf + off, size_t(take) * 4);
    }
    out += take;
    i += take;
  }
}

}  // namespace xbar
