// Device selection and the parameters of the parametric models (conductances in microsiemens).
// Keys common to every model live in [device]; each parametric model has its own section
// ([device.normal], [device.pcm], [device.rram]), and a key of a model other than the chosen one
// may not be changed from its default.
#pragma once
#include <string>
#include <vector>

#include "common/fields.h"

namespace xbar {

enum class DeviceKind { ideal, pcm, rram, normal, file };
template <>
struct EnumNames<DeviceKind> {
  static constexpr EnumName<DeviceKind> table[] = {{DeviceKind::ideal, "ideal"},
                                                   {DeviceKind::pcm, "pcm"},
                                                   {DeviceKind::rram, "rram"},
                                                   {DeviceKind::normal, "normal"},
                                                   {DeviceKind::file, "file"}};
};

// Generic Gaussian device: sigma = constant + relative * G for programming and for reads.
struct NormalDeviceConfig {
  double prog_sigma_uS = 0.0;   // programming sigma, constant part
  double prog_sigma_rel = 0.0;  // programming sigma proportional to G
  double read_sigma_uS = 0.0;   // read-noise sigma, constant part
  double read_sigma_rel = 0.0;  // read-noise sigma proportional to G
  double drift_nu = 0.0;        // mean drift exponent
  double drift_nu_std = 0.0;    // device-to-device std of the exponent
  double t0_s = 20.0;           // drift reference time

  static constexpr DeviceKind kind = DeviceKind::normal;
  static const char* section() { return "device.normal"; }
  static const std::vector<Field<NormalDeviceConfig>>& fields();
  void validate() const;
};

// Phase-change memory, the model of IBM aihwkit's PCMLikeNoiseModel. With x = clamp(|G| / g_max):
//   programming sigma = (prog_c0 + prog_c1 x + prog_c2 x^2) g_max / prog_g_ref   [Nandakumar 2019]
//   nu mean = clamp(nu_mean_slope ln x + nu_mean_intercept, nu_mean_min, nu_mean_max)  [Joshi 2020]
//   nu std  = clamp(nu_std_slope ln x + nu_std_intercept, nu_std_min, nu_std_max)     [Joshi 2020]
//   1/f read sigma = |G(t)| Q_s sqrt(ln((t + t_read) / (2 t_read))),
//   Q_s = min(read_q_coef / max(x^read_q_exponent, read_q_floor), read_q_max)          [Joshi 2020]
// Defaults: the published coefficients (aihwkit's PCMLikeNoiseModel defaults).
struct PcmDeviceConfig {
  double prog_c0_uS = 0.26348;
  double prog_c1_uS = 1.9650;
  double prog_c2_uS = -1.1731;
  double prog_g_ref_uS = 25.0;  // g_max of the fit: sigmas scale with g_max / prog_g_ref_uS
  double nu_mean_slope = -0.0155;
  double nu_mean_intercept = 0.0244;
  double nu_mean_min = 0.049;
  double nu_mean_max = 0.1;
  double nu_std_slope = -0.0125;
  double nu_std_intercept = -0.0059;
  double nu_std_min = 0.008;
  double nu_std_max = 0.045;
  double read_q_coef = 0.0088;
  double read_q_exponent = 0.65;
  double read_q_floor = 1e-3;
  double read_q_max = 0.2;
  double t0_s = 20.0;  // drift reference time

  static constexpr DeviceKind kind = DeviceKind::pcm;
  static const char* section() { return "device.pcm"; }
  static const std::vector<Field<PcmDeviceConfig>>& fields();
  void validate() const;
};

// RRAM in the style of Wan et al. (Nature 2022, NeuRRAM), with x = (G - g_min) / (g_max - g_min):
//   programming sigma = (prog_sigma_edge_uS + prog_sigma_mid_uS x (1 - x)) g_max / g_ref_uS
//   read sigma = read_sigma_rel |G|; no drift.
struct RramDeviceConfig {
  double prog_sigma_edge_uS = 1.0;  // at both ends of the range (~1 uS at 40 uS)
  double prog_sigma_mid_uS = 5.6;   // mid-range adds a quarter of this (~2.4 uS at 40 uS)
  double g_ref_uS = 40.0;           // g_max of the fit: sigmas scale with g_max / g_ref_uS
  double read_sigma_rel = 0.01;

  static constexpr DeviceKind kind = DeviceKind::rram;
  static const char* section() { return "device.rram"; }
  static const std::vector<Field<RramDeviceConfig>>& fields();
  void validate() const;
};

struct DeviceConfig {
  DeviceKind model = DeviceKind::ideal;
  std::string file;             // HDF5 device characterization file (model = file)
  double g_min_uS = 0.0;        // lowest programmable conductance
  double g_max_uS = 25.0;       // highest programmable conductance
  int levels = 0;               // equally spaced programmable levels (0: continuous)
  double prog_noise_scale = 1.0;  // multiplies every model's programming noise (0: off)
  double read_noise_scale = 1.0;  // multiplies every model's read noise (0: off)
  double drift_scale = 1.0;       // multiplies every model's drift exponent (0: off)
  double stuck_at_gmin_rate = 0.0;  // fraction of cells stuck at g_min
  double stuck_at_gmax_rate = 0.0;  // fraction of cells stuck at g_max
  NormalDeviceConfig normal;
  PcmDeviceConfig pcm;
  RramDeviceConfig rram;

  static const char* section() { return "device"; }
  static const std::vector<Field<DeviceConfig>>& fields();
  // Field checks of every section, and no changed key in a section of another model.
  void validate() const;

  // Visits this section and the per-model sections (generic lambda taking any config struct).
  template <class F>
  void visit_sections(F&& f) {
    f(*this), f(normal), f(pcm), f(rram);
  }
  template <class F>
  void visit_sections(F&& f) const {
    f(*this), f(normal), f(pcm), f(rram);
  }
};

// Old flat [device] keys of the normal model, still read from saved models and results files:
// {"device.prog_sigma_uS", "device.normal.prog_sigma_uS"}, ...
const std::vector<std::pair<std::string, std::string>>& renamed_device_keys();

// Sets a device key given relative to [device] ("levels", "pcm.t0_s"); for `xbar device`.
void set_device_field(DeviceConfig& cfg, const std::string& key, const FieldValue& value);

}  // namespace xbar
