#include "devices/table_device.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/stats.h"
#include "devices/read_noise_law.h"

namespace xbar {

double interp_clamped(const std::vector<double>& xs, const std::vector<double>& ys, double x) {
  if (xs.empty()) return 0.0;
  if (!(x > xs.front())) return ys.front();  // also NaN -> first value
  if (x >= xs.back()) return ys.back();
  const size_t k = size_t(std::upper_bound(xs.begin(), xs.end(), x) - xs.begin());  // xs[k-1] <= x < xs[k]
  const double w = (x - xs[k - 1]) / (xs[k] - xs[k - 1]);
  return ys[k - 1] + w * (ys[k] - ys[k - 1]);
}

double empirical_quantile(const std::vector<double>& s, double u) {
  if (s.empty()) return 0.0;
  const double pos = std::clamp(u * double(s.size()) - 0.5, 0.0, double(s.size() - 1));
  const size_t i = size_t(pos);
  if (i + 1 >= s.size()) return s.back();
  const double w = pos - double(i);
  return s[i] + w * (s[i + 1] - s[i]);
}

TableDevice::TableDevice(DeviceTables t, double extra_min, double extra_max)
    : t_(std::move(t)), stuck_min_(t_.stuck_at_gmin_rate + extra_min), stuck_max_(t_.stuck_at_gmax_rate + extra_max) {
  if (stuck_min_ + stuck_max_ > 1)
    throw ConfigError("device.stuck_at_gmax_rate", std::to_string(stuck_max_),
                      "file and config stuck-at rates add up to more than 1");
  if (t_.has_samples()) {
    const size_t L = t_.prog_g_uS.size(), N = t_.prog_samples_n;
    if (t_.prog_samples_uS.size() != L * N) throw FileError(t_.name + ": /programming/samples_uS has the wrong size");
    for (size_t l = 0; l < L; ++l) {
      std::vector<double> d(t_.prog_samples_uS.begin() + l * N, t_.prog_samples_uS.begin() + (l + 1) * N);
      for (auto& x : d) x -= t_.prog_g_uS[l];
      dev_std_.push_back(mean_std(d).sd);
      std::sort(d.begin(), d.end());
      dev_sorted_.push_back(std::move(d));
    }
  }
}

double TableDevice::prog_sigma_uS(double g) const {
  if (!t_.has_programming()) return 0.0;
  if (!t_.prog_sigma_uS.empty()) return interp_clamped(t_.prog_g_uS, t_.prog_sigma_uS, g);
  if (!dev_std_.empty()) return interp_clamped(t_.prog_g_uS, dev_std_, g);
  return 0.0;
}

double TableDevice::sample_deviation(double g, double u) const {
  const auto& xs = t_.prog_g_uS;
  if (dev_sorted_.empty()) return 0.0;
  if (!(g > xs.front())) return empirical_quantile(dev_sorted_.front(), u);
  if (g >= xs.back()) return empirical_quantile(dev_sorted_.back(), u);
  const size_t k = size_t(std::upper_bound(xs.begin(), xs.end(), g) - xs.begin());
  const double w = (g - xs[k - 1]) / (xs[k] - xs[k - 1]);
  // Quantile (displacement) interpolation between the two neighbouring levels.
  return (1 - w) * empirical_quantile(dev_sorted_[k - 1], u) + w * empirical_quantile(dev_sorted_[k], u);
}

double TableDevice::program(double g, double z, double u) const {
  if (t_.has_samples()) return std::max(0.0, g + prog_scale * sample_deviation(g, u));
  return std::max(0.0, g + prog_scale * prog_sigma_uS(g) * z);
}

double TableDevice::nu_mean(double g) const {
  return t_.has_drift() ? interp_clamped(t_.drift_g_uS, t_.drift_nu_mean, g) : 0.0;
}
double TableDevice::nu_std(double g) const {
  return t_.has_drift() ? interp_clamped(t_.drift_g_uS, t_.drift_nu_std, g) : 0.0;
}

double TableDevice::read_time_factor(double t) const {
  const std::string& m = t_.read_time_model;
  if (m == "pcm_1f") {
    return pcm_1f_factor(t, t_.read_t_read_s, t_.read_t_ref_s);
  }
  if (m == "power") return std::pow(std::max(t, t_.read_t_read_s) / t_.read_t_ref_s, t_.read_time_exponent);
  return 1.0;
}

double TableDevice::read_sigma_uS(double g_prog, double g_now, double t) const {
  if (!t_.has_read_noise()) return 0.0;
  double s = interp_clamped(t_.read_g_uS, t_.read_sigma_uS, std::abs(g_prog)) * read_time_factor(t);
  if (t_.read_scales_with_drift && std::abs(g_prog) > 0) s *= std::abs(g_now) / std::abs(g_prog);
  return s;
}

}  // namespace xbar
