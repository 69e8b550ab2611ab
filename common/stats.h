// Sample mean and standard deviation, the one definition used for every "mean +- std" xbar reports
// (chips of an evaluation, repeats of a study point, measured devices of a level).
//
// std is the sample standard deviation with Bessel's correction,
//   sd = sqrt(sum_i (x_i - mean)^2 / (n - 1)),   0 for n < 2,
// computed in two passes (mean first, then squared deviations): unlike the one-pass
// sqrt((sum x^2 - n mean^2) / (n - 1)) it cannot cancel catastrophically when the spread is small
// against the mean, and it is never negative. Values are summed in the order given.
#pragma once
#include <cmath>
#include <cstddef>
#include <vector>

namespace xbar {

struct MeanStd {
  double mean = 0.0;  // 0 for no values
  double sd = 0.0;    // sample standard deviation (n - 1); 0 for fewer than two values
  size_t n = 0;
};

inline MeanStd mean_std(const double* x, size_t n) {
  MeanStd r;
  r.n = n;
  if (n == 0) return r;
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += x[i];
  r.mean = s / double(n);
  if (n < 2) return r;
  double q = 0.0;
  for (size_t i = 0; i < n; ++i) q += (x[i] - r.mean) * (x[i] - r.mean);
  r.sd = std::sqrt(q / double(n - 1));
  return r;
}

inline MeanStd mean_std(const std::vector<double>& x) { return mean_std(x.data(), x.size()); }

// Collects values one at a time (chips, repeats) and reports them with mean_std.
class Samples {
 public:
  void add(double v) { v_.push_back(v); }
  size_t size() const { return v_.size(); }
  const std::vector<double>& values() const { return v_; }
  MeanStd stats() const { return mean_std(v_); }
  double mean() const { return stats().mean; }
  double sd() const { return stats().sd; }

 private:
  std::vector<double> v_;
};

}  // namespace xbar
