#include "devices/normal_device.h"

#include <cmath>

namespace xbar {

NormalDevice::NormalDevice(const DeviceConfig& c)
    : ParametricDevice(c), name_(c.model), ps_(0), pr_(0), rs_(0), rr_(0), nu_(0), nu_std_(0), t0_(c.t0_s) {
  if (c.model == "ideal") return;  // ideal ignores the normal-model parameters
  ps_ = c.prog_sigma_uS;
  pr_ = c.prog_sigma_rel;
  rs_ = c.read_sigma_uS;
  rr_ = c.read_sigma_rel;
  nu_ = c.drift_nu;
  nu_std_ = c.drift_nu_std;
}

}  // namespace xbar
