#include "engine/outliers.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace xbar {

const std::vector<Field<OutlierConfig>>& OutlierConfig::fields() {
  using O = OutlierConfig;
  static const std::vector<Field<O>> f = {
      {"input_topk_percent", "%", "per read, this percentage of input channels with the largest max |x| over the batch run in float (0: off)",
       &O::input_topk_percent, 0, 100},
      {"input_threshold", "input units", "input channels whose max |x| on calibration data exceeds this run in float (0: off)",
       &O::input_threshold, 0, 1e30},
      {"weight_topk_percent", "%", "this percentage of weights with the largest |w| run in a sparse float path (0: off)",
       &O::weight_topk_percent, 0, 100},
  };
  return f;
}

void OutlierConfig::validate() const {
  check_fields(*this);
  if (input_topk_percent > 0 && input_threshold > 0)
    throw ConfigError("outliers.input_threshold", format_double(input_threshold),
                      "choose either a static threshold or outliers.input_topk_percent, not both");
}

bool OutlierPath::split_weights(const OutlierConfig& cfg, const Eigen::Ref<const RowMatrixXf>& W, RowMatrixXf& Wa) {
  sparse_.resize(W.rows(), W.cols());
  sparse_.setZero();
  full_.resize(0, 0);
  static_channels_.clear();
  if (cfg.inputs()) full_ = W;
  const int64_t n = int64_t(std::llround(cfg.weight_topk_percent / 100.0 * double(W.size())));
  if (n <= 0) return false;
  Wa = W;
  std::vector<float> mag(W.data(), W.data() + W.size());
  for (auto& m : mag) m = std::abs(m);
  std::nth_element(mag.begin(), mag.begin() + (n - 1), mag.end(), std::greater<float>());
  const float thr = mag[size_t(n - 1)];
  std::vector<Eigen::Triplet<float>> trip;
  for (Eigen::Index i = 0; i < W.rows(); ++i)
    for (Eigen::Index j = 0; j < W.cols(); ++j)
      if (std::abs(W(i, j)) >= thr && int64_t(trip.size()) < n) {
        trip.emplace_back(int(i), int(j), W(i, j));
        Wa(i, j) = 0;
      }
  sparse_.setFromTriplets(trip.begin(), trip.end());
  return true;
}

void OutlierPath::calibrate(const OutlierConfig& cfg, const Eigen::Ref<const RowMatrixXf>& X) {
  if (cfg.input_threshold <= 0) return;
  static_channels_.clear();
  for (Eigen::Index c = 0; c < X.cols(); ++c)
    if (X.rows() > 0 && X.col(c).cwiseAbs().maxCoeff() > cfg.input_threshold) static_channels_.push_back(int(c));
}

RowMatrixXf OutlierPath::apply(const OutlierConfig& cfg, RowMatrixXf& X) const {
  RowMatrixXf Y = RowMatrixXf::Zero(X.rows(), sparse_.rows());
  std::vector<int> ch = static_channels_;
  if (cfg.input_topk_percent > 0 && X.rows() > 0) {
    const int k = int(std::llround(cfg.input_topk_percent / 100.0 * double(X.cols())));
    std::vector<float> m(X.cols());
    for (Eigen::Index c = 0; c < X.cols(); ++c) m[c] = X.col(c).cwiseAbs().maxCoeff();
    std::vector<int> idx(X.cols());
    std::iota(idx.begin(), idx.end(), 0);
    // Ties broken by channel index so the choice is deterministic.
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return m[a] > m[b]; });
    ch.assign(idx.begin(), idx.begin() + std::min<int>(k, int(idx.size())));
  }
  for (int c : ch) {
    Y.noalias() += X.col(c) * full_.col(c).transpose();
    X.col(c).setZero();
  }
  last_ = int64_t(ch.size());
  if (sparse_.nonZeros() > 0) Y += (sparse_ * X.transpose()).transpose();
  return Y;
}

}  // namespace xbar
