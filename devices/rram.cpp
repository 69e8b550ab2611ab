#include "devices/rram.h"

#include <algorithm>
#include <cmath>

namespace xbar {

double RramDevice::prog_sigma_uS(double g) const {
  const double x = std::clamp((g - g_min_) / (g_max_ - g_min_), 0.0, 1.0);
  return (p_.prog_sigma_edge_uS + p_.prog_sigma_mid_uS * x * (1.0 - x)) * (g_max_ / p_.g_ref_uS);
}

double RramDevice::read_sigma_uS(double, double g_now, double) const { return p_.read_sigma_rel * std::abs(g_now); }

}  // namespace xbar
