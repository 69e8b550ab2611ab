#include "engine/drift_compensation.h"

#include <cmath>

#include "common/error.h"

namespace xbar {

const std::vector<Field<DriftCompensationConfig>>& DriftCompensationConfig::fields() {
  using D = DriftCompensationConfig;
  static const std::vector<Field<D>> f = {
      {"mode", "", "digital drift compensation from reference reads at t = 0 and at the read time: none, global "
       "(one factor per layer) or column (one factor per output)",
       &D::mode},
      {"reference", "", "reference input: identity (one input at a time; r_j ~ sum_i |w_ij|) or ones (one all-ones "
       "read; r_j = |sum_i w_ij|, can cancel and clip a calibrated ADC)",
       &D::reference},
      {"reference_reads", "", "reference reads averaged per time point (each with fresh read and ADC noise)",
       &D::reference_reads, 1, 1024},
  };
  return f;
}

RowMatrixXf drift_reference_inputs(const DriftCompensationConfig& cfg, const DacConfig& dac, int in) {
  const float amp = dac.range == DacRange::static_ ? float(dac.static_range) : 1.f;
  const bool identity = cfg.reference == DriftReference::identity;
  const int rows = identity ? in : 1;
  RowMatrixXf X(Eigen::Index(rows) * cfg.reference_reads, in);
  for (int r = 0; r < cfg.reference_reads; ++r) {
    auto block = X.middleRows(Eigen::Index(r) * rows, rows);
    if (identity) block = amp * RowMatrixXf::Identity(in, in);
    else block.setConstant(amp);
  }
  return X;
}

std::vector<double> drift_reference_response(const DriftCompensationConfig& cfg, const RowMatrixXf& Y) {
  const Eigen::Index rows = Y.rows() / cfg.reference_reads;
  Eigen::MatrixXd mean = Eigen::MatrixXd::Zero(rows, Y.cols());
  for (int r = 0; r < cfg.reference_reads; ++r) mean += Y.middleRows(Eigen::Index(r) * rows, rows).cast<double>();
  const Eigen::VectorXd resp = mean.cwiseAbs().colwise().sum() / double(cfg.reference_reads);
  return std::vector<double>(resp.data(), resp.data() + resp.size());
}

std::vector<float> drift_factors(const DriftCompensationConfig& cfg, const std::vector<double>& r0,
                                 const std::vector<double>& rt) {
  if (r0.size() != rt.size())
    throw InputError("drift_factors: baseline has " + std::to_string(r0.size()) + " columns, current response " +
                     std::to_string(rt.size()));
  auto ratio = [](double a, double b) { return a > 0 && b > 0 ? float(a / b) : 1.f; };
  if (cfg.mode == DriftCompensationMode::column) {
    std::vector<float> f(r0.size());
    for (size_t j = 0; j < f.size(); ++j) f[j] = ratio(r0[j], rt[j]);
    return f;
  }
  double s0 = 0, st = 0;
  for (size_t j = 0; j < r0.size(); ++j) s0 += r0[j], st += rt[j];
  return std::vector<float>(r0.size(), ratio(s0, st));
}

void DriftCompensator::update(double t_s, const ReferenceRead& read) {
  factor_.clear();
  if (!cfg_.on()) return;
  if (baseline_.empty()) baseline_ = drift_reference_response(cfg_, read(0.0));
  factor_ = drift_factors(cfg_, baseline_, drift_reference_response(cfg_, read(t_s)));
}

double DriftCompensator::mean_factor() const {
  if (factor_.empty()) return 1;
  double sum = 0;
  for (float f : factor_) sum += f;
  return sum / double(factor_.size());
}

}  // namespace xbar
