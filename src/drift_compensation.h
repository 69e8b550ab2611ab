// Drift compensation as analog chips do it (Joshi et al., Nat. Commun. 2020; aihwkit's
// GlobalDriftCompensation / PerColumnDriftCompensation): a known reference input is read through
// the whole analog path (DAC, arrays with their read noise, ADC) right after programming (t = 0,
// the baseline) and again at the read time t; outputs are then scaled digitally, after the ADC and
// before the bias, so that the reference response matches its baseline.
//   global: one factor per layer  sum_j r_j(0) / sum_j r_j(t), reference = one all-ones input,
//           r_j = |y_j| (aihwkit's global readout).
//   column: one factor per output  r_j(0) / r_j(t), reference = the identity (one input row at a
//           time), r_j = sum_i |y_ij| ~ sum_i |w_ij(t)|: every cell of the column adds with its own
//           sign removed, so no column is ill-conditioned by cancellation (an all-ones read through
//           the differential pair gives sum_i w_ij, which can be ~0). Reading G+ and G- bit lines
//           separately before the subtraction would give the same quantity in one read, but a
//           differential-sensing column has no such path, and one conversion per column would carry
//           the ADC's full +-LSB/2 error where the identity read averages it over the rows.
// reference_reads R: the reference is read R times with fresh read/ADC noise and averaged before
// the absolute value (so noise does not add a bias to r_j).
#pragma once
#include <string>
#include <vector>

#include "circuits/dac.h"
#include "common/fields.h"

namespace xbar {

struct DriftCompensationConfig {
  std::string mode = "none";  // none | global | column
  int reference_reads = 1;    // reference reads averaged per time point

  static const char* section() { return "drift_compensation"; }
  static const std::vector<Field<DriftCompensationConfig>>& fields();
  void validate() const { check_fields(*this); }
  bool on() const { return mode != "none"; }
};

// The reference inputs of one compensation step for a layer with `in` inputs: R blocks of one
// all-ones row (global) or of the in x in identity (column), at the DAC's full-scale input
// (1, or dac.static_range) so a static DAC range does not clip them.
RowMatrixXf drift_reference_inputs(const DriftCompensationConfig& cfg, const DacConfig& dac, int in);
// r_j per output column from the layer's outputs (without bias) for drift_reference_inputs().
std::vector<double> drift_reference_response(const DriftCompensationConfig& cfg, const RowMatrixXf& Y);
// Digital factor per output column from the baseline and current responses. A column whose
// response is zero at either time carries no information and keeps factor 1.
std::vector<float> drift_factors(const DriftCompensationConfig& cfg, const std::vector<double>& r0,
                                 const std::vector<double>& rt);

}  // namespace xbar
