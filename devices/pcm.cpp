#include "devices/pcm.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "common/fast_math.h"
#include "devices/read_noise_law.h"

namespace xbar {

namespace {
// The model's laws, written once for the scalar form (double, libm) and the batched form (float,
// common/fast_math.h, vectorized over cells).
struct Libm {
  static double log(double x) { return std::log(x); }
  static double exp(double x) { return std::exp(x); }
};
struct Fast {
  static float log(float x) { return fastm::log_pos(x); }
  static float exp(float x) { return fastm::exp_f(x); }
};

// Conductance relative to g_max, floored as aihwkit does to keep logs finite.
template <class T>
T rel(T g, T g_max) {
  return std::max(std::abs(g) / g_max, T(1e-9));
}

template <class T>
T prog_sigma_law(const PcmDeviceConfig& p, T g, T g_max) {
  const T x = std::min(rel(g, g_max), T(1));
  return (T(p.prog_c0_uS) + T(p.prog_c1_uS) * x + T(p.prog_c2_uS) * x * x) * (g_max / T(p.prog_g_ref_uS));
}

// std::clamp by value (its references keep loops over cells from vectorizing); lo <= hi.
template <class T>
T clampv(T v, T lo, T hi) {
  return std::min(std::max(v, lo), hi);
}

// Mean and std of nu from ln(rel(g)).
template <class T>
T nu_mean_law(const PcmDeviceConfig& p, T lg) {
  return clampv(T(p.nu_mean_slope) * lg + T(p.nu_mean_intercept), T(p.nu_mean_min), T(p.nu_mean_max));
}
template <class T>
T nu_std_law(const PcmDeviceConfig& p, T lg) {
  return clampv(T(p.nu_std_slope) * lg + T(p.nu_std_intercept), T(p.nu_std_min), T(p.nu_std_max));
}

// Read-noise amplitude factor q_s(g_prog) = min(coef / max(rel^exponent, floor), max), from ln(rel).
template <class M, class T>
T read_q_law(const PcmDeviceConfig& p, T lg) {
  return std::min(T(p.read_q_coef) / std::max(M::exp(T(p.read_q_exponent) * lg), T(p.read_q_floor)), T(p.read_q_max));
}
}  // namespace

double PcmDevice::prog_sigma_uS(double g) const { return prog_sigma_law(p_, g, g_max_); }

double PcmDevice::nu_mean(double g) const { return nu_mean_law(p_, std::log(rel(g, g_max_))); }

double PcmDevice::nu_std(double g) const { return nu_std_law(p_, std::log(rel(g, g_max_))); }

double PcmDevice::sample_nu(double g, double z) const {
  const double lg = std::log(rel(g, g_max_));
  return drift_scale * std::abs(nu_mean_law(p_, lg) + nu_std_law(p_, lg) * z);
}

double PcmDevice::read_sigma_uS(double g_prog, double g_now, double t) const {
  const double l = pcm_1f_log(t);
  return l > 0 ? std::abs(g_now) * read_q_law<Libm>(p_, std::log(rel(g_prog, g_max_))) * std::sqrt(l) : 0.0;
}

void PcmDevice::program_n(int n, const float* g, const float* z, const float* /*u*/, float* out) const {
  const float gm = float(g_max_), ps = float(prog_scale);
  for (int k = 0; k < n; ++k) out[k] = std::max(0.0f, g[k] + ps * prog_sigma_law(p_, g[k], gm) * z[k]);
}

void PcmDevice::sample_nu_n(int n, const float* g, const float* z, float* nu) const {
  const float gm = float(g_max_), ds = float(drift_scale);
  for (int k = 0; k < n; ++k) {
    const float lg = Fast::log(rel(g[k], gm));
    nu[k] = ds * std::abs(nu_mean_law(p_, lg) + nu_std_law(p_, lg) * z[k]);
  }
}

namespace {
// ln((t + t_read) / (2 t_read)) as in pcm_1f_log, floored at 0 (no noise before one read pulse);
// the inner floor keeps the log's argument normal.
float read_time_log(float t) {
  const float tr = float(kReadPulse_s);
  return std::max(Fast::log(std::max((t + tr) / (2 * tr), 1e-30f)), 0.0f);
}

// The 1/f factors sqrt(read_time_log(t)) and read-noise amplitudes q_s(g) of 16 lanes. Every caller
// runs these two compiled functions on whole 16-lane arrays, so a value's result does not depend on
// its lane or the caller (Eigen's packet sqrt, with EIGEN_FAST_MATH, is not libm's to the last bit,
// and a compiler may contract a vector loop's and a scalar loop's products differently).
using Lanes = Eigen::Array<float, 16, 1>;
[[gnu::noinline]] Lanes time_factor16(const Lanes& t) {
  Lanes l;
  for (int k = 0; k < 16; ++k) l[k] = read_time_log(t[k]);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC 12's AVX-512 sqrt intrinsic: "__m512 __Y = __Y"
#endif
  return l.sqrt();
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
}
[[gnu::noinline]] Lanes amp16(const PcmDeviceConfig& p, const Lanes& g, float g_max) {
  Lanes a;
  for (int k = 0; k < 16; ++k) a[k] = read_q_law<Fast>(p, Fast::log(rel(g[k], g_max)));
  return a;
}
// The first m <= 16 values of x in 16 lanes, the rest repeating x[0].
Lanes lanes16(const float* x, int m) {
  Lanes v = Lanes::Constant(x[0]);
  for (int k = 1; k < m; ++k) v[k] = x[k];
  return v;
}
}  // namespace

void PcmDevice::read_sigma_n(int n, const float* gp, const float* gn, const float* t, float* out) const {
  const float gm = float(g_max_);
  for (int k0 = 0; k0 < n; k0 += 16) {
    const int m = std::min(16, n - k0);
    const Lanes r = time_factor16(lanes16(t + k0, m)), q = amp16(p_, lanes16(gp + k0, m), gm);
    for (int k = 0; k < m; ++k) out[k0 + k] = std::abs(gn[k0 + k]) * q[k] * r[k];
  }
}

bool PcmDevice::read_amp_n(int n, const float* gp, float* amp) const {
  for (int k0 = 0; k0 < n; k0 += 16) {
    const int m = std::min(16, n - k0);
    const Lanes q = amp16(p_, lanes16(gp + k0, m), float(g_max_));
    for (int k = 0; k < m; ++k) amp[k0 + k] = q[k];
  }
  return true;
}

void PcmDevice::read_time_factors_n(int n, const float* t, float* time) const {
  for (int k0 = 0; k0 < n; k0 += 16) {
    const int m = std::min(16, n - k0);
    const Lanes r = time_factor16(lanes16(t + k0, m));
    for (int k = 0; k < m; ++k) time[k0 + k] = r[k];
  }
}

}  // namespace xbar
