// map_tile against an independent integer quantizer: each weight w in [-1, 1] is the integer
// q = round(w (2^(bits-1) - 1)) (half away from zero never differs from the mapping's rounding
// here: the test's weights avoid exact half-steps), |q| split into cell_bits-wide digits, each
// digit d a cell value d / (2^cell_bits - 1) on the plus array (q >= 0) or the minus array, or
// the offset mapping's q + 2^(bits-1) on one array with a reference column. Exact equality.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>

#include "engine/mapping.h"

using namespace xbar;

TEST_CASE("map_tile: every cell is the independent quantizer's digit, for one and several slices, both mappings") {
  std::mt19937 g(3);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  Eigen::MatrixXf w(19, 13);
  for (Eigen::Index k = 0; k < w.size(); ++k) w.data()[k] = u(g);
  w(0, 0) = 0.f, w(1, 0) = -0.f, w(2, 0) = 1.f, w(3, 0) = -1.f;  // zeros and the extremes
  struct Case {
    int weight_bits, cell_bits;
    SignedMapping mapping;
  };
  for (const Case& c : {Case{8, 0, SignedMapping::differential}, Case{8, 4, SignedMapping::differential},
                        Case{6, 2, SignedMapping::differential}, Case{8, 0, SignedMapping::offset},
                        Case{8, 4, SignedMapping::offset}}) {
    CAPTURE(c.weight_bits);
    CAPTURE(c.cell_bits);
    CAPTURE(int(c.mapping));
    MappingConfig mc;
    mc.weight_bits = c.weight_bits;
    mc.cell_bits = c.cell_bits;
    mc.mapping = c.mapping;
    const SliceLayout lay = slice_layout(mc);
    const auto cells = map_tile(mc, lay, w);
    const int64_t levels = (int64_t(1) << (c.weight_bits - 1)) - 1, Z = int64_t(1) << (c.weight_bits - 1);
    const int cb = lay.cell_bits;
    const bool offset = c.mapping == SignedMapping::offset;
    REQUIRE(int(cells.size()) == lay.slices);
    int wrong = 0;
    for (int s = 0; s < lay.slices; ++s)
      for (Eigen::Index j = 0; j < w.cols(); ++j)
        for (Eigen::Index i = 0; i < w.rows(); ++i) {
          const double x = double(w(i, j)) * double(levels);
          const int64_t q = int64_t(x < 0 ? -std::floor(-x + 0.5) : std::floor(x + 0.5));
          const int64_t v = offset ? q + Z : (q < 0 ? -q : q);
          const float digit = float((v >> (cb * s)) % (int64_t(1) << cb)) / float((int64_t(1) << cb) - 1);
          if (offset) {
            wrong += cells[size_t(s)][0](i, j) != digit;
          } else {
            wrong += cells[size_t(s)][q < 0 ? 1 : 0](i, j) != digit;
            wrong += cells[size_t(s)][q < 0 ? 0 : 1](i, j) != 0.f;
          }
        }
    CHECK(wrong == 0);
  }
}
