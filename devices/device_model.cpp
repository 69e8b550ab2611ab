#include "devices/device_model.h"

#include <algorithm>
#include <cmath>

#include "devices/device_file.h"
#include "devices/normal_device.h"
#include "devices/pcm.h"
#include "devices/rram.h"

namespace xbar {

const std::vector<Field<DeviceConfig>>& DeviceConfig::fields() {
  using D = DeviceConfig;
  static const std::vector<Field<D>> f = {
      {"model", "", "device physics: ideal (noise-free), pcm (Nandakumar 2019 / Joshi 2020), rram (Wan 2022 style), normal (generic Gaussian), file (HDF5 characterization)",
       &D::model, 0, 0, {"ideal", "pcm", "rram", "normal", "file"}},
      {"file", "", "HDF5 device characterization file, used when model = file", &D::file},
      {"g_min_uS", "uS", "lowest programmable conductance", &D::g_min_uS, 0, 1e6},
      {"g_max_uS", "uS", "highest programmable conductance (noise of pcm/rram scales with it)", &D::g_max_uS, 1e-6, 1e6},
      {"levels", "", "equally spaced programmable levels between g_min and g_max (0: continuous)", &D::levels, 0, 65536},
      {"prog_sigma_uS", "uS", "normal model: constant programming-noise sigma", &D::prog_sigma_uS, 0, 1e6},
      {"prog_sigma_rel", "", "normal model: programming-noise sigma as a fraction of G", &D::prog_sigma_rel, 0, 100},
      {"read_sigma_uS", "uS", "normal model: constant read-noise sigma per read", &D::read_sigma_uS, 0, 1e6},
      {"read_sigma_rel", "", "normal model: read-noise sigma as a fraction of G", &D::read_sigma_rel, 0, 100},
      {"drift_nu", "", "normal model: mean drift exponent nu", &D::drift_nu, 0, 1},
      {"drift_nu_std", "", "normal model: device-to-device std of nu", &D::drift_nu_std, 0, 1},
      {"t0_s", "s", "drift reference time t0 of G(t) = G_prog ((t + t0)/t0)^-nu (normal model)", &D::t0_s, 1e-12, 1e12},
      {"prog_noise_scale", "", "multiplies the model's programming noise (0: off)", &D::prog_noise_scale, 0, 1e3},
      {"read_noise_scale", "", "multiplies the model's read noise (0: off)", &D::read_noise_scale, 0, 1e3},
      {"drift_scale", "", "multiplies the model's drift exponents (0: no drift)", &D::drift_scale, 0, 1e3},
      {"stuck_at_gmin_rate", "", "fraction of cells stuck at g_min (added to the model's own rate)", &D::stuck_at_gmin_rate, 0, 1},
      {"stuck_at_gmax_rate", "", "fraction of cells stuck at g_max (added to the model's own rate)", &D::stuck_at_gmax_rate, 0, 1},
  };
  return f;
}

void DeviceConfig::validate() const {
  check_fields(*this);
  if (g_min_uS >= g_max_uS)
    throw ConfigError("device.g_min_uS", format_double(g_min_uS),
                      "must be below device.g_max_uS = " + format_double(g_max_uS));
  if (levels == 1) throw ConfigError("device.levels", "1", "must be 0 (continuous) or at least 2");
  if (stuck_at_gmin_rate + stuck_at_gmax_rate > 1)
    throw ConfigError("device.stuck_at_gmax_rate", format_double(stuck_at_gmax_rate),
                      "stuck-at rates add up to more than 1");
  if (model == "file" && file.empty())
    throw ConfigError("device.file", "\"\"", "model = file needs an HDF5 device file");
}

double DeviceModel::program(double g, double z, double /*u*/) const {
  return std::max(0.0, g + prog_scale * prog_sigma_uS(g) * z);
}

double DeviceModel::sample_nu(double g, double z) const {
  return drift_scale * std::abs(nu_mean(g) + nu_std(g) * z);
}

double DeviceModel::snap_to_level(double g) const {
  const auto& lv = levels_uS();
  if (lv.empty()) return g;
  auto it = std::lower_bound(lv.begin(), lv.end(), g);
  if (it == lv.begin()) return lv.front();
  if (it == lv.end()) return lv.back();
  return (g - *(it - 1) <= *it - g) ? *(it - 1) : *it;
}

std::unique_ptr<DeviceModel> make_device(const DeviceConfig& cfg) {
  cfg.validate();
  std::unique_ptr<DeviceModel> d;
  if (cfg.model == "pcm") d = std::make_unique<PcmDevice>(cfg);
  else if (cfg.model == "rram") d = std::make_unique<RramDevice>(cfg);
  else if (cfg.model == "normal" || cfg.model == "ideal") d = std::make_unique<NormalDevice>(cfg);
  else d = load_device_file(cfg);
  d->prog_scale = cfg.prog_noise_scale;
  d->read_scale = cfg.read_noise_scale;
  d->drift_scale = cfg.drift_scale;
  return d;
}

}  // namespace xbar
