// The device physics interface: programming noise, drift, read noise and faults as functions of
// conductance (microsiemens). Implementations: parametric (ideal, pcm, rram, normal) and
// table-driven from an HDF5 characterization file.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "devices/device_config.h"

namespace xbar {

class DeviceModel {
 public:
  virtual ~DeviceModel() = default;
  virtual std::string name() const = 0;
  virtual double g_min_uS() const = 0;
  virtual double g_max_uS() const = 0;
  // Programmable states, sorted ascending; empty for a continuous device.
  virtual const std::vector<double>& levels_uS() const { return no_levels_; }

  // Std of the programming error at a target conductance (before noise scaling).
  virtual double prog_sigma_uS(double g_target_uS) const = 0;
  // Programmed conductance for a target, given a standard normal z and a uniform u in (0,1).
  // Default: Gaussian g + scale * sigma(g) * z, clamped at 0 (conductance cannot be negative).
  virtual double program(double g_target_uS, double z, double u) const;

  // Drift G(t) = G_prog * ((t + t0) / t0)^-nu; nu drawn per device from (mean, std) at G.
  virtual double nu_mean(double g_uS) const = 0;
  virtual double nu_std(double g_uS) const = 0;
  virtual double t0_s() const = 0;
  // Drift exponent of one device given a standard normal z (|mean + std z|, times drift_scale).
  virtual double sample_nu(double g_uS, double z) const;

  // Std of the read noise of one read at time t after programming (before noise scaling),
  // for a device programmed to g_prog that has drifted to g_now.
  virtual double read_sigma_uS(double g_prog_uS, double g_now_uS, double t_s) const = 0;

  // Batched float forms over n cells, what the arrays call: out[k] = program(g_target[k], z[k], u[k]),
  // sample_nu(g[k], z[k]) and read_sigma_uS(g_prog[k], g_now[k], t_s[k]). A model may vectorize
  // them in float; each agrees with its scalar form to float precision. Defaults: the scalar forms.
  virtual void program_n(int n, const float* g_target_uS, const float* z, const float* u, float* g_out_uS) const;
  virtual void sample_nu_n(int n, const float* g_uS, const float* z, float* nu) const;
  virtual void read_sigma_n(int n, const float* g_prog_uS, const float* g_now_uS, const float* t_s, float* sigma_uS) const;
  // A read-noise law of the form sigma = |g_now| amp(g_prog) time(t) (PCM's 1/f law) lets an array
  // whose cells stay (a KV cache, read again at every decode step) keep amp per cell and evaluate
  // time once per token. When read_sigma_factors() is true, read_amp_n fills amp[k] =
  // amp(g_prog[k]), read_time_factors_n time[k] = time(t_s[k]), and read_sigma_n gives
  // (|g_now| amp) * time bit for bit. The default: false (read_sigma_n serves; the two do nothing).
  virtual bool read_sigma_factors() const { return false; }
  virtual void read_amp_n(int /*n*/, const float* /*g_prog_uS*/, float* /*amp*/) const {}
  virtual void read_time_factors_n(int /*n*/, const float* /*t_s*/, float* /*time*/) const {}

  virtual double stuck_at_gmin_rate() const = 0;
  virtual double stuck_at_gmax_rate() const = 0;

  // Noise multipliers from DeviceConfig (prog_noise_scale, read_noise_scale, drift_scale).
  double prog_scale = 1.0, read_scale = 1.0, drift_scale = 1.0;

  // Nearest programmable level (identity for continuous devices).
  double snap_to_level(double g_uS) const;

 private:
  std::vector<double> no_levels_;
};

// Builds the model named by cfg.model (validates cfg first).
std::unique_ptr<DeviceModel> make_device(const DeviceConfig& cfg);

}  // namespace xbar
