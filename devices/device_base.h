// Shared state of the parametric models: conductance range, optional level table, fault rates.
#pragma once
#include "devices/device_model.h"

namespace xbar {

class ParametricDevice : public DeviceModel {
 public:
  explicit ParametricDevice(const DeviceConfig& cfg);
  double g_min_uS() const override { return g_min_; }
  double g_max_uS() const override { return g_max_; }
  const std::vector<double>& levels_uS() const override { return levels_; }
  double stuck_at_gmin_rate() const override { return stuck_min_; }
  double stuck_at_gmax_rate() const override { return stuck_max_; }

 protected:
  double g_min_, g_max_, stuck_min_, stuck_max_;
  std::vector<double> levels_;
};

}  // namespace xbar
