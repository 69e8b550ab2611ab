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

// Box-Muller on 16 lanes of Philox words: cos_out[l] = r(rw[l]) cos a(aw[l]) and, when sin_out is
// given, sin_out[l] = r(rw[l]) sin a(aw[l]) (23-bit radius and 24-bit angle uniforms).
inline void box_muller16(const uint32_t* rw, const uint32_t* aw, float* cos_out, float* sin_out) {
  // Radii: 23-bit uniforms (exact in float) in (0, 1), so the log is finite. Eigen's sqrt
  // vectorizes (std::sqrt's errno path would stop the loop from vectorizing).
  Eigen::Array<float, 16, 1> r2;
#pragma omp simd
  for (int l = 0; l < 16; ++l) r2[l] = fastm::bm_radius2(rw[l]);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC 12's AVX-512 sqrt intrinsic: "__m512 __Y = __Y"
#endif
  const Eigen::Array<float, 16, 1> r = r2.sqrt();
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#pragma omp simd
  for (int l = 0; l < 16; ++l) {
    float s, c;
    fastm::sincos_turn24(aw[l] >> 8, s, c);
    cos_out[l] = r[l] * c;
    if (sin_out) sin_out[l] = r[l] * s;
  }
}

// 64 normals from Philox blocks 16 g .. 16 g + 15 (lanes l = 0..15): out[l] = r(w0) cos a(w1),
// out[16 + l] = r(w0) sin a(w1), out[32 + l] = r(w2) cos a(w3), out[48 + l] = r(w2) sin a(w3).
inline void normal_group64(const CounterRng& rng, uint64_t g, float* out) {
  uint32_t c[4][16];
  rng.lanes16(16 * g, c);
  box_muller16(c[0], c[1], out, out + 16);
  box_muller16(c[2], c[3], out + 32, out + 48);
}

}  // namespace detail

// z[l]: one normal per Philox block from two of its words, the cosine branch of Box-Muller with
// fill_normal's uniforms.
inline void normal_cos16(const uint32_t* rw, const uint32_t* aw, float* z) { detail::box_muller16(rw, aw, z, nullptr); }

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
