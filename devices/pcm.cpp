#include "devices/pcm.h"

#include <algorithm>
#include <cmath>

namespace xbar {

namespace {
// Conductance relative to g_max, floored as aihwkit does to keep logs finite.
double rel(double g_uS, double g_max_uS) { return std::max(std::abs(g_uS) / g_max_uS, 1e-9); }
}  // namespace

double PcmDevice::prog_sigma_uS(double g) const {
  const double x = std::min(rel(g, g_max_), 1.0);
  return (0.26348 + 1.9650 * x - 1.1731 * x * x) * (g_max_ / 25.0);
}

double PcmDevice::nu_mean(double g) const {
  return std::clamp(-0.0155 * std::log(rel(g, g_max_)) + 0.0244, 0.049, 0.1);
}

double PcmDevice::nu_std(double g) const {
  return std::clamp(-0.0125 * std::log(rel(g, g_max_)) - 0.0059, 0.008, 0.045);
}

double PcmDevice::read_sigma_uS(double g_prog, double g_now, double t) const {
  const double qs = std::min(0.0088 / std::max(std::pow(rel(g_prog, g_max_), 0.65), 1e-3), 0.2);
  const double l = std::log((t + kTRead_s) / (2.0 * kTRead_s));
  return l > 0 ? std::abs(g_now) * qs * std::sqrt(l) : 0.0;
}

}  // namespace xbar
