// Drift compensation as analog chips do it (Joshi et al., Nat. Commun. 2020; aihwkit's
// GlobalDriftCompensation / PerColumnDriftCompensation): a known reference input is read through
// the whole analog path (DAC, arrays with their read noise, ADC) right after programming (t = 0,
// the baseline) and again at the read time t; outputs are then scaled digitally, after the ADC and
// before the bias, so that the reference response r_j = sum over reference rows of |y_j| matches
// its baseline:
//   global: one factor per layer   sum_j r_j(0) / sum_j r_j(t)
//   column: one factor per output  r_j(0) / r_j(t)
// Reference inputs:
//   identity (default): one input row at a time (aihwkit's per-column readout), so
//     r_j ~ sum_i |w_ij(t)|: every cell adds with its sign removed (no column is ill-conditioned by
//     cancellation), and each conversion carries a single cell's signal, which stays inside an ADC
//     range calibrated on data.
//   ones: one all-ones row (aihwkit's global readout), r_j = |sum_i w_ij(t)|: one read, but a column
//     sum can cancel to ~0 (useless per column), and it is larger than typical data signals, so a
//     calibrated ADC clips it at both times and the factor is biased towards 1.
// Reading the G+ and G- bit lines separately before the differential subtraction would give
// sum_i |w_ij| in one read, but a differential-sensing column has no such path, and one conversion
// per column carries the ADC's full +-LSB/2 error where the identity read averages it over rows.
// reference_reads R: the reference is read R times with fresh read/ADC noise and averaged before
// the absolute value (so noise does not add a bias to r_j).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "circuits/dac.h"
#include "common/fields.h"

namespace xbar {

enum class DriftCompensationMode { none, global, column };
template <>
struct EnumNames<DriftCompensationMode> {
  static constexpr EnumName<DriftCompensationMode> table[] = {{DriftCompensationMode::none, "none"},
                                                              {DriftCompensationMode::global, "global"},
                                                              {DriftCompensationMode::column, "column"}};
};

enum class DriftReference { identity, ones };
template <>
struct EnumNames<DriftReference> {
  static constexpr EnumName<DriftReference> table[] = {{DriftReference::identity, "identity"},
                                                       {DriftReference::ones, "ones"}};
};

struct DriftCompensationConfig {
  DriftCompensationMode mode = DriftCompensationMode::none;
  DriftReference reference = DriftReference::identity;
  int reference_reads = 1;    // reference reads averaged per time point

  static const char* section() { return "drift_compensation"; }
  static const std::vector<Field<DriftCompensationConfig>>& fields();
  void validate() const { check_fields(*this); }
  bool on() const { return mode != DriftCompensationMode::none; }
};

// The reference inputs of one compensation step for a layer with `in` inputs: R blocks of the
// in x in identity or of one all-ones row, at the DAC's full-scale input
// (1, or dac.static_range) so a static DAC range does not clip them.
RowMatrixXf drift_reference_inputs(const DriftCompensationConfig& cfg, const DacConfig& dac, int in);
// r_j per output column from the layer's outputs (without bias) for drift_reference_inputs().
std::vector<double> drift_reference_response(const DriftCompensationConfig& cfg, const RowMatrixXf& Y);
// Digital factor per output column from the baseline and current responses. A column whose
// response is zero at either time carries no information and keeps factor 1.
std::vector<float> drift_factors(const DriftCompensationConfig& cfg, const std::vector<double>& r0,
                                 const std::vector<double>& rt);

// The compensation of one programmed layer: the baseline response (read once per programming)
// and the factors for the current read time.
class DriftCompensator {
 public:
  // Reads the layer's outputs (without bias) for drift_reference_inputs() at a time (s).
  using ReferenceRead = std::function<RowMatrixXf(double t_s)>;

  explicit DriftCompensator(const DriftCompensationConfig& cfg) : cfg_(cfg) {}
  // New programming: the baseline is read again at the next update.
  void reset() {
    baseline_.clear();
    factor_.clear();
  }
  // Factors for read time t_s (none when mode = none).
  void update(double t_s, const ReferenceRead& read);
  // No factors until the next update (the reference cannot be read yet).
  void suspend() { factor_.clear(); }
  const std::vector<float>& factors() const { return factor_; }  // per output (empty: none)
  double mean_factor() const;                                     // 1 without factors

 private:
  DriftCompensationConfig cfg_;
  std::vector<double> baseline_;  // reference response at t = 0 (empty: not read yet)
  std::vector<float> factor_;
};

}  // namespace xbar
