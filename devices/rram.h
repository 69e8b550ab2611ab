// RRAM in the style of Wan et al. (Nature 2022, NeuRRAM): programming sigma ~1 uS at the ends of
// a 40 uS range rising to ~2.4 uS mid-range (relaxation of intermediate states), so the error
// does not vanish at low G; read noise 1% of G; no drift. Sigmas scale with g_max / 40 uS.
// Coefficients from [device.rram] (RramDeviceConfig).
#pragma once
#include "devices/device_base.h"

namespace xbar {

class RramDevice : public ParametricDevice {
 public:
  explicit RramDevice(const DeviceConfig& cfg) : ParametricDevice(cfg), p_(cfg.rram) {}
  std::string name() const override { return "rram"; }
  double prog_sigma_uS(double g_target_uS) const override;
  double nu_mean(double) const override { return 0.0; }
  double nu_std(double) const override { return 0.0; }
  double t0_s() const override { return 1.0; }  // no drift: t0 is never used
  double read_sigma_uS(double g_prog_uS, double g_now_uS, double t_s) const override;

 private:
  RramDeviceConfig p_;
};

}  // namespace xbar
