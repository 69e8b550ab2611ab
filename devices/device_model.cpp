#include "devices/device_model.h"

#include <algorithm>
#include <cmath>

#include "devices/device_file.h"
#include "devices/normal_device.h"
#include "devices/pcm.h"
#include "devices/rram.h"

namespace xbar {

double DeviceModel::program(double g, double z, double /*u*/) const {
  return std::max(0.0, g + prog_scale * prog_sigma_uS(g) * z);
}

double DeviceModel::sample_nu(double g, double z) const {
  return drift_scale * std::abs(nu_mean(g) + nu_std(g) * z);
}

void DeviceModel::program_n(int n, const float* g, const float* z, const float* u, float* out) const {
  for (int k = 0; k < n; ++k) out[k] = float(program(g[k], z[k], u[k]));
}

void DeviceModel::sample_nu_n(int n, const float* g, const float* z, float* nu) const {
  for (int k = 0; k < n; ++k) nu[k] = float(sample_nu(g[k], z[k]));
}

void DeviceModel::read_sigma_n(int n, const float* gp, const float* gn, const float* t, float* out) const {
  for (int k = 0; k < n; ++k) out[k] = float(read_sigma_uS(gp[k], gn[k], t[k]));
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
  switch (cfg.model) {
    case DeviceKind::pcm: d = std::make_unique<PcmDevice>(cfg); break;
    case DeviceKind::rram: d = std::make_unique<RramDevice>(cfg); break;
    case DeviceKind::normal:
    case DeviceKind::ideal: d = std::make_unique<NormalDevice>(cfg); break;
    case DeviceKind::file: d = load_device_file(cfg); break;
  }
  d->prog_scale = cfg.prog_noise_scale;
  d->read_scale = cfg.read_noise_scale;
  d->drift_scale = cfg.drift_scale;
  return d;
}

}  // namespace xbar
