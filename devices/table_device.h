// Table-driven DeviceModel built from an xbar-device HDF5 file (devices/device_file.h):
// piecewise-linear interpolation in G with clamping at the ends of each table; programming errors
// either Gaussian with the tabulated sigma(G) or sampled empirically from raw per-level samples
// (inverse empirical CDF at the uniform u passed to program()).
#pragma once
#include <vector>

#include "devices/device_file.h"

namespace xbar {

// y(x) by linear interpolation on the strictly increasing grid xs, constant beyond the ends.
double interp_clamped(const std::vector<double>& xs, const std::vector<double>& ys, double x);
// Inverse empirical CDF of sorted samples at u in (0,1) (Hazen plotting positions (i + 0.5)/n,
// linear between order statistics, clamped to the sample range).
double empirical_quantile(const std::vector<double>& sorted, double u);

class TableDevice : public DeviceModel {
 public:
  // extra_* are added to the file's stuck-at rates (DeviceConfig's rates).
  explicit TableDevice(DeviceTables t, double extra_stuck_min = 0.0, double extra_stuck_max = 0.0);

  std::string name() const override { return t_.name; }
  double g_min_uS() const override { return t_.g_min_uS; }
  double g_max_uS() const override { return t_.g_max_uS; }
  const std::vector<double>& levels_uS() const override { return t_.levels_uS; }

  double prog_sigma_uS(double g_target_uS) const override;
  double program(double g_target_uS, double z, double u) const override;

  double nu_mean(double g_uS) const override;
  double nu_std(double g_uS) const override;
  double t0_s() const override { return t_.drift_t0_s; }

  double read_sigma_uS(double g_prog_uS, double g_now_uS, double t_s) const override;
  // Multiplier of the tabulated read sigma at time t (1 at t_ref; the file's time_model).
  double read_time_factor(double t_s) const;

  double stuck_at_gmin_rate() const override { return stuck_min_; }
  double stuck_at_gmax_rate() const override { return stuck_max_; }

  const DeviceTables& tables() const { return t_; }
  // Deviation (measured - target) of the programming error at g for uniform u (empirical mode).
  double sample_deviation(double g_target_uS, double u) const;

 private:
  DeviceTables t_;
  double stuck_min_, stuck_max_;
  std::vector<std::vector<double>> dev_sorted_;  // per level: sorted (sample - target)
  std::vector<double> dev_std_;                  // per level: std of the samples
};

}  // namespace xbar
