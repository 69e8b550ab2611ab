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

// The 1/f factors sqrt(read_time_log(t)) and read-noise amplitudes q_s(g) of 16 values: every
// caller runs these loops on whole 16-lane blocks and takes the root of an aligned 16-lane array
// (Eigen's packet sqrt, with EIGEN_FAST_MATH, is not libm's to the last bit), so a value's result
// does not depend on its lane, the caller or the buffers.
using Lanes = Eigen::Array<float, 16, 1>;
inline void time_factor16(const float* t, float* out) {
  Lanes l;
  for (int k = 0; k < 16; ++k) l[k] = read_time_log(t[k]);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC 12's AVX-512 sqrt intrinsic: "__m512 __Y = __Y"
#endif
  const Lanes r = l.sqrt();
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  for (int k = 0; k < 16; ++k) out[k] = r[k];
}
inline void amp16(const PcmDeviceConfig& p, const float* g, float g_max, float* out) {
  for (int k = 0; k < 16; ++k) out[k] = read_q_law<Fast>(p, Fast::log(rel(g[k], g_max)));
}
// f(in, out) over n values in blocks of 16; the last block padded with its first value.
template <class F>
void by16(int n, const float* in, float* out, F f) {
  int k0 = 0;
  for (; k0 + 16 <= n; k0 += 16) f(in + k0, out + k0);
  if (k0 == n) return;
  float x[16], y[16];
  for (int k = 0; k < 16; ++k) x[k] = in[k0 + (k0 + k < n ? k : 0)];
  f(x, y);
  std::copy(y, y + (n - k0), out + k0);
}
}  // namespace

void PcmDevice::read_sigma_n(int n, const float* gp, const float* gn, const float* t, float* out) const {
  const float gm = float(g_max_);
  float q[16], r[16];
  for (int k0 = 0; k0 < n; k0 += 16) {
    const int m = std::min(16, n - k0);
    by16(m, t + k0, r, time_factor16);
    by16(m, gp + k0, q, [&](const float* g, float* o) { amp16(p_, g, gm, o); });
    for (int k = 0; k < m; ++k) out[k0 + k] = std::abs(gn[k0 + k]) * q[k] * r[k];
  }
}

void PcmDevice::read_amp_n(int n, const float* gp, float* amp) const {
  const float gm = float(g_max_);
  by16(n, gp, amp, [&](const float* g, float* o) { amp16(p_, g, gm, o); });
}

void PcmDevice::read_time_factors_n(int n, const float* t, float* time) const { by16(n, t, time, time_factor16); }

}  // namespace xbar
