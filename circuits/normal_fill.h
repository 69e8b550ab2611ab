// Fast vectorized standard normals from the counter RNG: Philox words -> uniforms -> Box-Muller
// with Eigen's packet log/sin/cos. Draws depend only on (rng, first_block, n), never on threads.
#pragma once
#include <Eigen/Dense>

#include "common/rng.h"

namespace xbar {

// Number of Philox blocks that fill_normal consumes for n normals (4 normals per block).
inline uint64_t normal_blocks(uint64_t n) { return (n + 3) / 4; }

// out[i] ~ N(0, 1) for i < out.size(), from Philox blocks first_block, first_block + 1, ...
inline void fill_normal(const CounterRng& rng, uint64_t first_block, Eigen::ArrayXf& u1, Eigen::ArrayXf& u2,
                        Eigen::Ref<Eigen::ArrayXf> out) {
  const Eigen::Index n = out.size(), h = (n + 1) / 2;
  u1.resize(h);
  u2.resize(h);
  for (Eigen::Index b = 0; b < (n + 3) / 4; ++b) {
    uint32_t w[4];
    rng.block(first_block + uint64_t(b), w);
    const Eigen::Index i = 2 * b;
    u1(i) = (float(w[0] >> 8) + 0.5f) * (1.0f / 16777216.0f);
    u2(i) = float(w[1] >> 8) * (1.0f / 16777216.0f);
    if (i + 1 < h) {
      u1(i + 1) = (float(w[2] >> 8) + 0.5f) * (1.0f / 16777216.0f);
      u2(i + 1) = float(w[3] >> 8) * (1.0f / 16777216.0f);
    }
  }
  const Eigen::ArrayXf r = (-2.0f * u1.log()).sqrt();
  const Eigen::ArrayXf a = 6.2831853f * u2;
  out.head(h) = r * a.cos();
  out.tail(n - h) = (r * a.sin()).head(n - h);
}

}  // namespace xbar
