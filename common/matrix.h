// Dense matrix aliases shared by every layer. Row-major float matrices hold batches (one input
// vector per row), the layout of LibTorch tensors, so both can view the same memory.
#pragma once
#include <Eigen/Dense>

namespace xbar {

using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace xbar
