// Fast vectorized standard normals from the counter RNG: Philox4x32-10 blocks in 16 lanes ->
// 24-bit uniforms -> Box-Muller with the float log / sin / cos of common/fast_math.h. Normal i of a
// stream is a pure function of (rng, i), never of threads or of how a range is split into calls.
//
// Accuracy (tests/common/test_normal_fill.cpp checks it against libm in double): each normal is
// within a few float roundings (abs < 2e-6) of exact Box-Muller on the same uniforms. Radius uniforms have 23 bits
// (radii reach 5.8 sigma; tail mass beyond it 8e-9), angles step 2 pi / 2^24.
#pragma once
#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common/fast_math.h"
#include "common/rng.h"

namespace xbar {

namespace detail {

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
    for (int l = 0; l < 16; ++l) r2[l] = fastm::bm_radius2(rw[l]);
    const Eigen::Array<float, 16, 1> r = r2.sqrt();
#pragma omp simd
    for (int l = 0; l < 16; ++l) {
      float s, co;
      fastm::sincos_turn24(aw[l] >> 8, s, co);
      oc[l] = r[l] * co;
      os[l] = r[l] * s;
    }
  }
}

}  // namespace detail

// z[l] = sqrt(-2 ln u(rw[l])) cos(2 pi a(aw[l])) for 16 lanes: one normal per Philox block from two of
// its words (23-bit radius and 24-bit angle uniforms, as in fill_normal).
inline void normal_cos16(const uint32_t* rw, const uint32_t* aw, float* z) {
  Eigen::Array<float, 16, 1> r2;
#pragma omp simd
  for (int l = 0; l < 16; ++l) r2[l] = fastm::bm_radius2(rw[l]);
  const Eigen::Array<float, 16, 1> r = r2.sqrt();
#pragma omp simd
  for (int l = 0; l < 16; ++l) {
    float s, c;
    fastm::sincos_turn24(aw[l] >> 8, s, c);
    z[l] = r[l] * c;
  }
}

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
