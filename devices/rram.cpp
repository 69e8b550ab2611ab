#include "devices/rram.h"

#include <algorithm>
#include <cmath>

namespace xbar {

double RramDevice::prog_sigma_uS(double g) const {
  const double x = std::clamp((g - g_min_) / (g_max_ - g_min_), 0.0, 1.0);
  return (1.0 + 5.6 * x * (1.0 - x)) * (g_max_ / 40.0);
}

double RramDevice::read_sigma_uS(double, double g_now, double) const { return 0.01 * std::abs(g_now); }

}  // namespace xbar
