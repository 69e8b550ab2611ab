// Generic Gaussian device: sigma = constant + relative * G for programming and for reads, drift
// exponent from (mean, std). With every parameter zero it is the ideal device.
#pragma once
#include "devices/device_base.h"

namespace xbar {

class NormalDevice : public ParametricDevice {
 public:
  explicit NormalDevice(const DeviceConfig& cfg);
  std::string name() const override { return name_; }
  double prog_sigma_uS(double g) const override { return ps_ + pr_ * std::abs(g); }
  double nu_mean(double) const override { return nu_; }
  double nu_std(double) const override { return nu_std_; }
  double t0_s() const override { return t0_; }
  double read_sigma_uS(double, double g_now, double) const override { return rs_ + rr_ * std::abs(g_now); }

 private:
  std::string name_;
  double ps_, pr_, rs_, rr_, nu_, nu_std_, t0_;
};

}  // namespace xbar
