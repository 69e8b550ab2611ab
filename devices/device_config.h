// Device selection and the parameters of the parametric models (conductances in microsiemens).
#pragma once
#include <string>
#include <vector>

#include "common/fields.h"

namespace xbar {

struct DeviceConfig {
  std::string model = "ideal";  // ideal | pcm | rram | normal | file
  std::string file;             // HDF5 device characterization file (model = file)
  double g_min_uS = 0.0;        // lowest programmable conductance
  double g_max_uS = 25.0;       // highest programmable conductance
  int levels = 0;               // equally spaced programmable levels (0: continuous)
  double prog_sigma_uS = 0.0;   // normal model: programming sigma, constant part
  double prog_sigma_rel = 0.0;  // normal model: programming sigma proportional to G
  double read_sigma_uS = 0.0;   // normal model: read-noise sigma, constant part
  double read_sigma_rel = 0.0;  // normal model: read-noise sigma proportional to G
  double drift_nu = 0.0;        // normal model: mean drift exponent
  double drift_nu_std = 0.0;    // normal model: device-to-device std of the exponent
  double t0_s = 20.0;           // drift reference time
  double prog_noise_scale = 1.0;  // multiplies every model's programming noise (0: off)
  double read_noise_scale = 1.0;  // multiplies every model's read noise (0: off)
  double drift_scale = 1.0;       // multiplies every model's drift exponent (0: off)
  double stuck_at_gmin_rate = 0.0;  // fraction of cells stuck at g_min
  double stuck_at_gmax_rate = 0.0;  // fraction of cells stuck at g_max

  static const char* section() { return "device"; }
  static const std::vector<Field<DeviceConfig>>& fields();
  void validate() const;
};

}  // namespace xbar
