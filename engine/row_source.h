// Input vectors produced a block of rows at a time, so that a read need not hold them all: a
// convolution's patch rows are C kh kw times its input, and a read that fills and converts them
// block by block keeps each block in cache from the copy to the array products.
#pragma once
#include <Eigen/Core>
#include <functional>

namespace xbar {

struct RowSource {
  Eigen::Index rows = 0, cols = 0;
  // Writes rows [first, first + n) into out, row-major (n x cols, leading dimension cols).
  std::function<void(Eigen::Index first, Eigen::Index n, float* out)> fill;
};

}  // namespace xbar
