#include "devices/device_config.h"

namespace xbar {

const std::vector<Field<NormalDeviceConfig>>& NormalDeviceConfig::fields() {
  using N = NormalDeviceConfig;
  static const std::vector<Field<N>> f = {
      {"prog_sigma_uS", "uS", "constant programming-noise sigma", &N::prog_sigma_uS, 0, 1e6},
      {"prog_sigma_rel", "", "programming-noise sigma as a fraction of G", &N::prog_sigma_rel, 0, 100},
      {"read_sigma_uS", "uS", "constant read-noise sigma per read", &N::read_sigma_uS, 0, 1e6},
      {"read_sigma_rel", "", "read-noise sigma as a fraction of G", &N::read_sigma_rel, 0, 100},
      {"drift_nu", "", "mean drift exponent nu", &N::drift_nu, 0, 1},
      {"drift_nu_std", "", "device-to-device std of nu", &N::drift_nu_std, 0, 1},
      {"t0_s", "s", "drift reference time t0 of G(t) = G_prog ((t + t0)/t0)^-nu", &N::t0_s, 1e-12, 1e12},
  };
  return f;
}

const std::vector<Field<PcmDeviceConfig>>& PcmDeviceConfig::fields() {
  using P = PcmDeviceConfig;
  static const std::vector<Field<P>> f = {
      {"prog_c0_uS", "uS", "programming sigma polynomial c0 + c1 x + c2 x^2 (x = G/g_max), Nandakumar 2019: c0",
       &P::prog_c0_uS, -1e3, 1e3},
      {"prog_c1_uS", "uS", "programming sigma polynomial: c1", &P::prog_c1_uS, -1e3, 1e3},
      {"prog_c2_uS", "uS", "programming sigma polynomial: c2", &P::prog_c2_uS, -1e3, 1e3},
      {"prog_g_ref_uS", "uS", "g_max of the published fit: sigmas scale with g_max / prog_g_ref_uS", &P::prog_g_ref_uS,
       1e-6, 1e6},
      {"nu_mean_slope", "", "drift nu mean = clamp(slope ln x + intercept, min, max), Joshi 2020: slope",
       &P::nu_mean_slope, -1, 1},
      {"nu_mean_intercept", "", "drift nu mean: intercept", &P::nu_mean_intercept, -1, 1},
      {"nu_mean_min", "", "drift nu mean: lower clamp", &P::nu_mean_min, 0, 1},
      {"nu_mean_max", "", "drift nu mean: upper clamp", &P::nu_mean_max, 0, 1},
      {"nu_std_slope", "", "device-to-device std of nu = clamp(slope ln x + intercept, min, max), Joshi 2020: slope",
       &P::nu_std_slope, -1, 1},
      {"nu_std_intercept", "", "std of nu: intercept", &P::nu_std_intercept, -1, 1},
      {"nu_std_min", "", "std of nu: lower clamp", &P::nu_std_min, 0, 1},
      {"nu_std_max", "", "std of nu: upper clamp", &P::nu_std_max, 0, 1},
      {"read_q_coef", "", "1/f read noise sigma = |G(t)| Q_s sqrt(ln((t + t_read)/(2 t_read))), "
       "Q_s = min(coef / max(x^exponent, floor), max), Joshi 2020: coef",
       &P::read_q_coef, 0, 1},
      {"read_q_exponent", "", "1/f read noise Q_s: exponent", &P::read_q_exponent, 0, 10},
      {"read_q_floor", "", "1/f read noise Q_s: floor of x^exponent", &P::read_q_floor, 1e-12, 1},
      {"read_q_max", "", "1/f read noise Q_s: upper limit", &P::read_q_max, 0, 10},
      {"t0_s", "s", "drift reference time t0 of G(t) = G_prog ((t + t0)/t0)^-nu", &P::t0_s, 1e-12, 1e12},
  };
  return f;
}

const std::vector<Field<RramDeviceConfig>>& RramDeviceConfig::fields() {
  using R = RramDeviceConfig;
  static const std::vector<Field<R>> f = {
      {"prog_sigma_edge_uS", "uS", "programming sigma (edge + mid x (1 - x)) g_max/g_ref, Wan 2022: at both range ends",
       &R::prog_sigma_edge_uS, 0, 1e6},
      {"prog_sigma_mid_uS", "uS", "programming sigma: coefficient of x (1 - x) (mid-range adds a quarter of it)",
       &R::prog_sigma_mid_uS, 0, 1e6},
      {"g_ref_uS", "uS", "g_max of the published fit: sigmas scale with g_max / g_ref_uS", &R::g_ref_uS, 1e-6, 1e6},
      {"read_sigma_rel", "", "read-noise sigma as a fraction of G", &R::read_sigma_rel, 0, 100},
  };
  return f;
}

const std::vector<Field<DeviceConfig>>& DeviceConfig::fields() {
  using D = DeviceConfig;
  static const std::vector<Field<D>> f = {
      {"model", "", "device physics: ideal (noise-free), pcm (Nandakumar 2019 / Joshi 2020), rram (Wan 2022 style), normal (generic Gaussian), file (HDF5 characterization); parameters in [device.<model>]",
       &D::model},
      {"file", "", "HDF5 device characterization file, used when model = file", &D::file},
      {"g_min_uS", "uS", "lowest programmable conductance", &D::g_min_uS, 0, 1e6},
      {"g_max_uS", "uS", "highest programmable conductance (noise of pcm/rram scales with it)", &D::g_max_uS, 1e-6, 1e6},
      {"levels", "", "equally spaced programmable levels between g_min and g_max (0: continuous)", &D::levels, 0, 65536},
      {"prog_noise_scale", "", "multiplies the model's programming noise (0: off)", &D::prog_noise_scale, 0, 1e3},
      {"read_noise_scale", "", "multiplies the model's read noise (0: off)", &D::read_noise_scale, 0, 1e3},
      {"drift_scale", "", "multiplies the model's drift exponents (0: no drift)", &D::drift_scale, 0, 1e3},
      {"stuck_at_gmin_rate", "", "fraction of cells stuck at g_min (added to the model's own rate)", &D::stuck_at_gmin_rate, 0, 1},
      {"stuck_at_gmax_rate", "", "fraction of cells stuck at g_max (added to the model's own rate)", &D::stuck_at_gmax_rate, 0, 1},
  };
  return f;
}

void NormalDeviceConfig::validate() const { check_fields(*this); }

void PcmDeviceConfig::validate() const {
  check_fields(*this);
  if (nu_mean_min > nu_mean_max)
    throw ConfigError("device.pcm.nu_mean_min", format_double(nu_mean_min),
                      "must not exceed device.pcm.nu_mean_max = " + format_double(nu_mean_max));
  if (nu_std_min > nu_std_max)
    throw ConfigError("device.pcm.nu_std_min", format_double(nu_std_min),
                      "must not exceed device.pcm.nu_std_max = " + format_double(nu_std_max));
}

void RramDeviceConfig::validate() const { check_fields(*this); }

namespace {
// A per-model section may differ from its defaults only when its model is the chosen one.
template <class S>
void check_model_section(const S& s, DeviceKind chosen) {
  if (S::kind == chosen) return;
  if (const Field<S>* f = first_changed_field(s))
    throw ConfigError(std::string(S::section()) + "." + f->key, field_string(s, *f),
                      std::string("is set but device.model = ") + enum_name(chosen) + " (it applies to model = " +
                          enum_name(S::kind) + ")");
}
}  // namespace

void DeviceConfig::validate() const {
  check_fields(*this);
  normal.validate();
  pcm.validate();
  rram.validate();
  check_model_section(normal, model);
  check_model_section(pcm, model);
  check_model_section(rram, model);
  if (g_min_uS >= g_max_uS)
    throw ConfigError("device.g_min_uS", format_double(g_min_uS),
                      "must be below device.g_max_uS = " + format_double(g_max_uS));
  if (levels == 1) throw ConfigError("device.levels", "1", "must be 0 (continuous) or at least 2");
  if (stuck_at_gmin_rate + stuck_at_gmax_rate > 1)
    throw ConfigError("device.stuck_at_gmax_rate", format_double(stuck_at_gmax_rate),
                      "stuck-at rates add up to more than 1");
  if (model == DeviceKind::file && file.empty())
    throw ConfigError("device.file", "\"\"", "model = file needs an HDF5 device file");
}

const std::vector<std::pair<std::string, std::string>>& renamed_device_keys() {
  static const std::vector<std::pair<std::string, std::string>> r = [] {
    std::vector<std::pair<std::string, std::string>> v;
    for (const auto& f : NormalDeviceConfig::fields()) v.emplace_back("device." + f.key, "device.normal." + f.key);
    return v;
  }();
  return r;
}

void set_device_field(DeviceConfig& cfg, const std::string& given_key, const FieldValue& value) {
  std::string key = given_key;
  for (const auto& [old_key, new_key] : renamed_device_keys())
    if ("device." + key == old_key) key = new_key.substr(7);
  const auto dot = key.rfind('.');
  const std::string section = "device" + (dot == std::string::npos ? "" : "." + key.substr(0, dot));
  const std::string name = dot == std::string::npos ? key : key.substr(dot + 1);
  bool found = false;
  cfg.visit_sections([&](auto& s) {
    if (!found && section == s.section()) found = true, set_field(s, name, value);
  });
  if (!found) throw ConfigError(section + "." + name, "?", "unknown device section (device, device.normal, device.pcm, device.rram)");
}

}  // namespace xbar
