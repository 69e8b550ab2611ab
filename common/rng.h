// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
// A draw is a pure function of (key, counter), so results do not depend on thread count or
// scheduling, and per-device quantities (drift exponents, faults) can be regenerated instead of
// stored.
#pragma once
#include <cmath>
#include <algorithm>
#include <cstdint>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace xbar {

struct Philox {
  static inline void round(uint32_t c[4], const uint32_t k[2]) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c[0];
    const uint64_t p1 = uint64_t(0xCD9E8D57u) * c[2];
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    c[0] = hi1 ^ c[1] ^ k[0];
    c[1] = lo1;
    c[2] = hi0 ^ c[3] ^ k[1];
    c[3] = lo0;
  }
  // Four 32-bit words from a 64-bit key and a 128-bit counter (hi, lo).
  static inline void block(uint64_t key, uint64_t ctr_hi, uint64_t ctr_lo, uint32_t out[4]) {
    uint32_t k[2] = {uint32_t(key), uint32_t(key >> 32)};
    out[0] = uint32_t(ctr_lo);
    out[1] = uint32_t(ctr_lo >> 32);
    out[2] = uint32_t(ctr_hi);
    out[3] = uint32_t(ctr_hi >> 32);
    for (int r = 0; r < 10; ++r) {
      round(out, k);
      k[0] += 0x9E3779B9u;
      k[1] += 0xBB67AE85u;
    }
  }
};

namespace detail {
// The low counter words of 16 lanes: first + l (consecutive) or idx[l] (listed).
struct ConsecutiveCounters {
  uint64_t first;
  uint64_t lane(int l) const { return first + uint64_t(l); }
#if defined(__AVX512F__)
  __m512i half(int h) const {
    return _mm512_add_epi64(_mm512_set1_epi64(int64_t(first + uint64_t(8 * h))), _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0));
  }
#endif
};
struct ListedCounters {
  const uint64_t* idx;
  uint64_t lane(int l) const { return idx[l]; }
#if defined(__AVX512F__)
  __m512i half(int h) const { return _mm512_loadu_si512(idx + 8 * h); }
#endif
};

// Philox4x32-10 of the 16 blocks (key, ctr_hi, ctr.lane(l)) in lanes: word w of lane l is c[w][l].
// With AVX-512 the rounds run on 16 lanes at once (a 32x32 -> 64-bit multiply per even/odd lane
// pair); otherwise a plain loop. Both equal Philox::block.
template <class Counters>
inline void philox16(uint64_t key, uint64_t ctr_hi, const Counters& ctrs, uint32_t c[4][16]) {
  uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
#if defined(__AVX512F__)
  // Two halves of 8 blocks; each word sits in the low 32 bits of a 64-bit lane, so one
  // _mm512_mul_epu32 gives the full 64-bit product (it ignores the upper halves, which may hold
  // garbage), its high word is one shift away, and the XORs are one ternary-logic op each.
  // (maskz forms with an all-ones mask are the plain instructions; the unmasked intrinsics
  // trigger GCC 12's false "uninitialized" warning.)
  const __mmask8 all = 0xFF;
  const __m512i m0 = _mm512_set1_epi64(0xD2511F53), m1 = _mm512_set1_epi64(0xCD9E8D57);
  for (int half = 0; half < 2; ++half) {
    const __m512i ctr = ctrs.half(half);
    __m512i c0 = ctr, c1 = _mm512_maskz_srli_epi64(all, ctr, 32);
    __m512i c2 = _mm512_set1_epi64(int64_t(ctr_hi & 0xFFFFFFFFu)), c3 = _mm512_set1_epi64(int64_t(ctr_hi >> 32));
    uint32_t q0 = k0, q1 = k1;
    for (int r = 0; r < 10; ++r) {
      const __m512i p0 = _mm512_maskz_mul_epu32(all, c0, m0), p1 = _mm512_maskz_mul_epu32(all, c2, m1);
      // 0x96: a ^ b ^ c.
      c0 = _mm512_ternarylogic_epi64(_mm512_maskz_srli_epi64(all, p1, 32), c1, _mm512_set1_epi64(q0), 0x96);
      c2 = _mm512_ternarylogic_epi64(_mm512_maskz_srli_epi64(all, p0, 32), c3, _mm512_set1_epi64(q1), 0x96);
      c1 = p1;
      c3 = p0;
      q0 += 0x9E3779B9u;
      q1 += 0xBB67AE85u;
    }
    // Low 32 bits of each lane.
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c[0] + 8 * half), _mm512_maskz_cvtepi64_epi32(all, c0));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c[1] + 8 * half), _mm512_maskz_cvtepi64_epi32(all, c1));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c[2] + 8 * half), _mm512_maskz_cvtepi64_epi32(all, c2));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c[3] + 8 * half), _mm512_maskz_cvtepi64_epi32(all, c3));
  }
#else
  for (int l = 0; l < 16; ++l) {
    const uint64_t ctr = ctrs.lane(l);
    c[0][l] = uint32_t(ctr);
    c[1][l] = uint32_t(ctr >> 32);
    c[2][l] = uint32_t(ctr_hi);
    c[3][l] = uint32_t(ctr_hi >> 32);
  }
  for (int r = 0; r < 10; ++r) {
    for (int l = 0; l < 16; ++l) {
      const uint64_t p0 = uint64_t(0xD2511F53u) * c[0][l];
      const uint64_t p1 = uint64_t(0xCD9E8D57u) * c[2][l];
      const uint32_t n0 = uint32_t(p1 >> 32) ^ c[1][l] ^ k0;
      const uint32_t n2 = uint32_t(p0 >> 32) ^ c[3][l] ^ k1;
      c[1][l] = uint32_t(p1);
      c[3][l] = uint32_t(p0);
      c[0][l] = n0;
      c[2][l] = n2;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
#endif
}
}  // namespace detail

// Sixteen consecutive blocks first .. first + 15 of (key, ctr_hi) in lanes: word w of block
// first + l is c[w][l].
inline void philox_lanes16(uint64_t key, uint64_t ctr_hi, uint64_t first, uint32_t c[4][16]) {
  detail::philox16(key, ctr_hi, detail::ConsecutiveCounters{first}, c);
}
// The blocks idx[0 .. 15] of (key, ctr_hi) in lanes: word w of block idx[l] is c[w][l].
inline void philox_lanes16_at(uint64_t key, uint64_t ctr_hi, const uint64_t idx[16], uint32_t c[4][16]) {
  detail::philox16(key, ctr_hi, detail::ListedCounters{idx}, c);
}

// Blocks first .. first + n - 1 of (key, ctr_hi) into out[4 n]; identical to calling
// Philox::block for each counter.
inline void philox_blocks(uint64_t key, uint64_t ctr_hi, uint64_t first, uint64_t n, uint32_t* out) {
  uint32_t c[4][16];
  for (uint64_t base = 0; base < n; base += 16) {
    philox_lanes16(key, ctr_hi, first + base, c);
    const int m = int(std::min<uint64_t>(16, n - base));
    for (int l = 0; l < m; ++l)
      for (int w = 0; w < 4; ++w) out[4 * (base + uint64_t(l)) + uint64_t(w)] = c[w][l];
  }
}

// Mixes several 64-bit words into one key (SplitMix64 finaliser per word).
inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
inline uint64_t make_key(uint64_t a, uint64_t b = 0, uint64_t c = 0, uint64_t d = 0) {
  return mix64(mix64(mix64(mix64(a) ^ b) ^ c) ^ d);
}


// A stream of draws addressed by element index: draw i of stream (key, sub) is always the same.
class CounterRng {
 public:
  CounterRng(uint64_t key, uint64_t sub = 0) : key_(key), sub_(sub) {}
  static constexpr double kTwoPi = 6.283185307179586;  // Box-Muller's angle factor
  // A block word as a uniform in (0, 1).
  static inline double unit(uint32_t w) { return (double(w) + 0.5) * (1.0 / 4294967296.0); }
  // Two independent standard normals for element i (Box-Muller).
  inline void normal2(uint64_t i, double& z0, double& z1) const {
    uint32_t w[4];
    Philox::block(key_, sub_, i, w);
    const double u1 = unit(w[0]);
    const double u2 = unit(w[1]);
    const double r = std::sqrt(-2.0 * std::log(u1));
    z0 = r * std::cos(kTwoPi * u2);
    z1 = r * std::sin(kTwoPi * u2);
  }
  // Whether cos(kTwoPi unit(w)) < 0 for an angle word w: unit(w) = (w + 1/2) 2^-32 lies in (1/4, 3/4),
  // i.e. w in [2^30, 3 2^30). Exact: the angle closest to pi/2 or 3 pi/2 is 2pi 2^-33 ~ 7e-10 away,
  // where the cosine is ~7e-10 from 0, far above the ~1e-16 rounding of the double product and cosine.
  // With w = word 1 of block i it is whether normal2's z0 is negative (the radius is positive, u1 < 1),
  // without the log, root and cosine.
  static inline bool cos_negative(uint32_t w) { return w - 0x40000000u < 0x80000000u; }
  // The four raw words of block i, and of n consecutive blocks.
  inline void block(uint64_t i, uint32_t w[4]) const { Philox::block(key_, sub_, i, w); }
  inline void blocks(uint64_t first, uint64_t n, uint32_t* w) const { philox_blocks(key_, sub_, first, n, w); }
  // Blocks first .. first + 15 in lanes (see philox_lanes16).
  inline void lanes16(uint64_t first, uint32_t c[4][16]) const { philox_lanes16(key_, sub_, first, c); }
  // Blocks idx[0 .. 15] in lanes (see philox_lanes16_at).
  inline void lanes16_at(const uint64_t idx[16], uint32_t c[4][16]) const { philox_lanes16_at(key_, sub_, idx, c); }
  inline double normal(uint64_t i) const {
    double a, b;
    normal2(i, a, b);
    return a;
  }
  // Uniform in (0, 1) for element i (independent of normal(i)'s words).
  inline double uniform(uint64_t i) const {
    uint32_t w[4];
    Philox::block(key_, sub_, i, w);
    return unit(w[2]);
  }
  // A second independent uniform for element i.
  inline double uniform_b(uint64_t i) const {
    uint32_t w[4];
    Philox::block(key_, sub_, i, w);
    return unit(w[3]);
  }

 private:
  uint64_t key_, sub_;
};

}  // namespace xbar
