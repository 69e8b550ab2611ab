// The PCM 1/f read-noise time law (Joshi et al., Nat. Commun. 2020; aihwkit PCMLikeNoiseModel):
// the noise power accumulated from one read pulse to time t grows as ln((t + t_read) / (2 t_read)),
// so sigma(t) is proportional to its square root and is 0 before one read pulse has elapsed.
#pragma once
#include <cmath>

namespace xbar {

// Duration of one read pulse (t_read of the 1/f law).
inline constexpr double kReadPulse_s = 250e-9;

// ln((t + t_read) / (2 t_read)): the 1/f noise power accumulated up to t (<= 0: none yet).
inline double pcm_1f_log(double t_s, double t_read_s = kReadPulse_s) {
  return std::log((t_s + t_read_s) / (2 * t_read_s));
}

// sigma(t) / sigma(t_ref) under the 1/f law (0 before one read pulse).
inline double pcm_1f_factor(double t_s, double t_read_s, double t_ref_s) {
  const double l = pcm_1f_log(t_s, t_read_s);
  return l > 0 ? std::sqrt(l / pcm_1f_log(t_ref_s, t_read_s)) : 0.0;
}

}  // namespace xbar
