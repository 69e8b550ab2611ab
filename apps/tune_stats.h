// Acceptance statistics of the precision tuner (apps/tune.h): the one-sided upper confidence bound
// on a paired accuracy loss measured on the same chips and samples (common random numbers).
#pragma once
#include <cmath>
#include <vector>

#include "common/error.h"
#include "common/stats.h"

namespace xbar {

// One-sided Student t quantile t_{p, df} for p = 0.90, 0.95 or 0.99. df 1..30 from the standard
// table (Abramowitz & Stegun 26.10); above, the Cornish-Fisher expansion in 1/df around the normal
// quantile (relative error < 1e-3 at df = 31).
inline double student_t_quantile(double p, int df) {
  static const double t90[30] = {3.078, 1.886, 1.638, 1.533, 1.476, 1.440, 1.415, 1.397, 1.383, 1.372,
                                 1.363, 1.356, 1.350, 1.345, 1.341, 1.337, 1.333, 1.330, 1.328, 1.325,
                                 1.323, 1.321, 1.319, 1.318, 1.316, 1.315, 1.314, 1.313, 1.311, 1.310};
  static const double t95[30] = {6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812,
                                 1.796, 1.782, 1.771, 1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725,
                                 1.721, 1.717, 1.714, 1.711, 1.708, 1.706, 1.703, 1.701, 1.699, 1.697};
  static const double t99[30] = {31.821, 6.965, 4.541, 3.747, 3.365, 3.143, 2.998, 2.896, 2.821, 2.764,
                                 2.718,  2.681, 2.650, 2.624, 2.602, 2.583, 2.567, 2.552, 2.539, 2.528,
                                 2.518,  2.508, 2.500, 2.492, 2.485, 2.479, 2.473, 2.467, 2.462, 2.457};
  const double* table = nullptr;
  double z = 0;
  if (p == 0.90) table = t90, z = 1.2815515655;
  if (p == 0.95) table = t95, z = 1.6448536270;
  if (p == 0.99) table = t99, z = 2.3263478740;
  if (!table) throw ConfigError("confidence", std::to_string(p), "one of 0.90, 0.95, 0.99");
  if (df < 1) throw ConfigError("degrees of freedom", std::to_string(df), "must be >= 1 (at least 2 chips)");
  if (df <= 30) return table[df - 1];
  const double v = df, z3 = z * z * z, z5 = z3 * z * z;
  return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v);
}

struct PairedLoss {
  MeanStd stats;       // of the per-chip losses
  double upper = 0.0;  // one-sided upper confidence bound on the mean loss
};

// losses[i]: the loss on chip i (base metric minus candidate metric, or the reverse for metrics
// where lower is better). upper = mean + t_{p, n-1} sd / sqrt(n).
inline PairedLoss paired_loss(const std::vector<double>& losses, double p) {
  PairedLoss r;
  r.stats = mean_std(losses);
  const int n = int(losses.size());
  r.upper = r.stats.mean + student_t_quantile(p, n - 1) * r.stats.sd / std::sqrt(double(n));
  return r;
}

}  // namespace xbar
