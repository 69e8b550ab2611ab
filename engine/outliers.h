// Outlier handling: route outlier input channels and/or the largest weights to a digital float
// path, so the analog part sees a smaller dynamic range (DAC scale, weight scale, ADC range).
//   y = analog(X_a; W_a) + X_a W_s^T + X_o W[:, o]^T
// X_o: the outlier input channels (X_a the rest, zeroed there); W_s: the sparse largest weights
// (W_a = W - W_s).
#pragma once
#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <vector>

#include "circuits/dac.h"
#include "common/fields.h"

namespace xbar {

struct OutlierConfig {
  double input_topk_percent = 0.0;   // per read: this % of input channels with the largest |x| go digital
  double input_threshold = 0.0;      // static: channels whose calibration max |x| exceeds this go digital
  double weight_topk_percent = 0.0;  // this % of weights with the largest |w| go to a sparse digital path

  static const char* section() { return "outliers"; }
  static const std::vector<Field<OutlierConfig>>& fields();
  void validate() const;
  bool inputs() const { return input_topk_percent > 0 || input_threshold > 0; }
};

class OutlierPath {
 public:
  // Splits W into the analog part and the sparse digital part: true when weights go digital, the
  // analog part then in Wa (false: W is all analog, Wa untouched). Keeps W when input channels may
  // be routed digital (their whole column runs in float).
  bool split_weights(const OutlierConfig& cfg, const Eigen::Ref<const RowMatrixXf>& W, RowMatrixXf& Wa);
  // Static channel selection from calibration inputs (input_threshold).
  void calibrate(const OutlierConfig& cfg, const Eigen::Ref<const RowMatrixXf>& X);
  // Zeroes the digital channels of X in place and returns the digital contribution (batch x out).
  RowMatrixXf apply(const OutlierConfig& cfg, RowMatrixXf& X) const;

  int64_t digital_weights() const { return sparse_.nonZeros(); }
  int64_t last_channels() const { return last_; }  // input channels routed digital in the last read

 private:
  Eigen::SparseMatrix<float, Eigen::RowMajor> sparse_;  // out x in
  RowMatrixXf full_;                                    // W, when input channels can go digital
  std::vector<int> static_channels_;
  mutable int64_t last_ = 0;
};

}  // namespace xbar
