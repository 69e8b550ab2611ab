#include "devices/normal_device.h"

#include <cmath>

namespace xbar {

NormalDevice::NormalDevice(const DeviceConfig& c)
    : ParametricDevice(c), name_(enum_name(c.model)), ps_(0), pr_(0), rs_(0), rr_(0), nu_(0), nu_std_(0), t0_(c.normal.t0_s) {
  if (c.model == DeviceKind::ideal) return;  // ideal ignores the normal-model parameters
  const NormalDeviceConfig& n = c.normal;
  ps_ = n.prog_sigma_uS;
  pr_ = n.prog_sigma_rel;
  rs_ = n.read_sigma_uS;
  rr_ = n.read_sigma_rel;
  nu_ = n.drift_nu;
  nu_std_ = n.drift_nu_std;
}

}  // namespace xbar
