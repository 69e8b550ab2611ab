#include "devices/pcm.h"

#include <algorithm>
#include <cmath>

#include "devices/read_noise_law.h"

namespace xbar {

namespace {
// Conductance relative to g_max, floored as aihwkit does to keep logs finite.
double rel(double g_uS, double g_max_uS) { return std::max(std::abs(g_uS) / g_max_uS, 1e-9); }
}  // namespace

double PcmDevice::prog_sigma_uS(double g) const {
  const double x = std::min(rel(g, g_max_), 1.0);
  return (p_.prog_c0_uS + p_.prog_c1_uS * x + p_.prog_c2_uS * x * x) * (g_max_ / p_.prog_g_ref_uS);
}

double PcmDevice::nu_mean(double g) const {
  return std::clamp(p_.nu_mean_slope * std::log(rel(g, g_max_)) + p_.nu_mean_intercept, p_.nu_mean_min, p_.nu_mean_max);
}

double PcmDevice::nu_std(double g) const {
  return std::clamp(p_.nu_std_slope * std::log(rel(g, g_max_)) + p_.nu_std_intercept, p_.nu_std_min, p_.nu_std_max);
}

double PcmDevice::sample_nu(double g, double z) const {
  const double lg = std::log(rel(g, g_max_));
  const double mean = std::clamp(p_.nu_mean_slope * lg + p_.nu_mean_intercept, p_.nu_mean_min, p_.nu_mean_max);
  const double std = std::clamp(p_.nu_std_slope * lg + p_.nu_std_intercept, p_.nu_std_min, p_.nu_std_max);
  return drift_scale * std::abs(mean + std * z);
}

double PcmDevice::read_sigma_uS(double g_prog, double g_now, double t) const {
  const double qs =
      std::min(p_.read_q_coef / std::max(std::pow(rel(g_prog, g_max_), p_.read_q_exponent), p_.read_q_floor), p_.read_q_max);
  const double l = pcm_1f_log(t);
  return l > 0 ? std::abs(g_now) * qs * std::sqrt(l) : 0.0;
}

}  // namespace xbar
