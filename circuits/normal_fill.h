// Fast vectorized standard normals from the counter RNG: Philox words -> uniforms -> Box-Muller
// with Eigen's packet log/sin/cos. Draws depend only on (rng, first_block, n), never on threads.
#pragma once
#include <Eigen/Dense>
#include <vector>

#include "common/rng.h"

namespace xbar {

// Number of Philox blocks that fill_normal consumes for n normals (4 normals per block).
inline uint64_t normal_blocks(uint64_t n) { return (n + 3) / 4; }

// Reused buffers (no allocation per call once sized).
struct NormalWork {
  std::vector<uint32_t> words;
  Eigen::ArrayXf u1, u2, r;
};

// out[i] ~ N(0, 1) for i < out.size(), from Philox blocks first_block, first_block + 1, ...
// The first half of the words gives the Box-Muller radii, the second half the angles.
inline void fill_normal(const CounterRng& rng, uint64_t first_block, NormalWork& w, Eigen::Ref<Eigen::ArrayXf> out) {
  using ArrayXu = Eigen::Array<uint32_t, Eigen::Dynamic, 1>;
  const Eigen::Index n = out.size(), h = (n + 1) / 2;
  const uint64_t nb = normal_blocks(uint64_t(n));
  w.words.resize(size_t(4 * nb));
  rng.blocks(first_block, nb, w.words.data());
  const Eigen::Map<const ArrayXu> a(w.words.data(), h), b(w.words.data() + h, h);
  w.u1 = (a.shiftRight<8>().cast<float>() + 0.5f) * (1.0f / 16777216.0f);  // (0, 1): log is finite
  w.u2 = b.shiftRight<8>().cast<float>() * (6.2831853f / 16777216.0f);       // angle in [0, 2 pi)
  w.r = (-2.0f * w.u1.log()).sqrt();
  out.head(h) = w.r * w.u2.cos();
  out.tail(n - h) = (w.r * w.u2.sin()).head(n - h);
}

}  // namespace xbar
