// Shared inputs of the engine tests.
#pragma once
#include <cstring>
#include <random>

#include "common/matrix.h"

namespace xbar::test {

// Entries uniform in [-scale, scale), from their own mt19937 seeded by `seed`.
inline RowMatrixXf random_matrix(int rows, int cols, unsigned seed, float scale = 1.f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  RowMatrixXf m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = scale * u(g);
  return m;
}

// Same shape and the same bits in every entry (a bit-identity check, not a tolerance).
inline bool same_bits(const RowMatrixXf& a, const RowMatrixXf& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}

}  // namespace xbar::test
