#include "devices/device_base.h"

namespace xbar {

ParametricDevice::ParametricDevice(const DeviceConfig& cfg)
    : g_min_(cfg.g_min_uS),
      g_max_(cfg.g_max_uS),
      stuck_min_(cfg.stuck_at_gmin_rate),
      stuck_max_(cfg.stuck_at_gmax_rate) {
  for (int i = 0; i < cfg.levels; ++i)
    levels_.push_back(g_min_ + (g_max_ - g_min_) * i / double(cfg.levels - 1));
}

}  // namespace xbar
