// Phase-change memory after Nandakumar et al. (ICECS 2019) and Joshi et al. (Nat. Commun. 2020),
// the model of IBM aihwkit's PCMLikeNoiseModel (calibrated on ~1M devices): programming noise
// polynomial, drift with state-dependent exponent, accumulated 1/f read noise. Coefficients from
// [device.pcm] (PcmDeviceConfig).
#pragma once
#include "devices/device_base.h"

namespace xbar {

class PcmDevice : public ParametricDevice {
 public:
  explicit PcmDevice(const DeviceConfig& cfg) : ParametricDevice(cfg), p_(cfg.pcm) {}
  std::string name() const override { return "pcm"; }
  double prog_sigma_uS(double g_target_uS) const override;
  double nu_mean(double g_uS) const override;
  double nu_std(double g_uS) const override;
  // The default's value with the logarithm of g shared by the mean and the std.
  double sample_nu(double g_uS, double z) const override;
  double t0_s() const override { return p_.t0_s; }
  double read_sigma_uS(double g_prog_uS, double g_now_uS, double t_s) const override;
  // Vectorized float forms of program, sample_nu and read_sigma_uS.
  void program_n(int n, const float* g_target_uS, const float* z, const float* u, float* g_out_uS) const override;
  void sample_nu_n(int n, const float* g_uS, const float* z, float* nu) const override;
  void read_sigma_n(int n, const float* g_prog_uS, const float* g_now_uS, const float* t_s, float* sigma_uS) const override;
  // The 1/f law factors: amp(g_prog) = q_s(g_prog), time(t) = sqrt(ln((t + t_read) / (2 t_read))).
  bool read_sigma_factors() const override { return true; }
  void read_amp_n(int n, const float* g_prog_uS, float* amp) const override;
  void read_time_factors_n(int n, const float* t_s, float* time) const override;

 private:
  PcmDeviceConfig p_;
};

}  // namespace xbar
