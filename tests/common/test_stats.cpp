// mean_std against an independent reference: the same two-pass definition in long double on
// random data (relative tolerance 1e-12: the double sums of n <= 1000 terms round at ~1e-13).
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "common/stats.h"

using namespace xbar;

namespace {
void reference(const std::vector<double>& x, long double& mean, long double& sd) {
  long double s = 0;
  for (double v : x) s += v;
  mean = s / x.size();
  long double q = 0;
  for (double v : x) q += (v - mean) * (v - mean);
  sd = x.size() > 1 ? std::sqrt(q / (x.size() - 1)) : 0;
}
}  // namespace

TEST_CASE("stats: mean_std matches a long-double two-pass reference on random data") {
  std::mt19937_64 g(7);
  for (double offset : {0.0, 1e3, 1e8}) {  // 1e8 with spread 1: the one-pass formula loses ~all digits
    for (size_t n : {2, 3, 10, 1000}) {
      std::normal_distribution<double> nd(offset, 1.0);
      std::vector<double> x(n);
      for (auto& v : x) v = nd(g);
      long double m, sd;
      reference(x, m, sd);
      const MeanStd r = mean_std(x);
      CHECK(r.n == n);
      CHECK(r.mean == doctest::Approx(double(m)).epsilon(1e-12));
      CHECK(r.sd == doctest::Approx(double(sd)).epsilon(1e-12));
    }
  }
}

TEST_CASE("stats: edge cases and the Samples accumulator") {
  CHECK(mean_std(std::vector<double>{}).mean == 0);
  CHECK(mean_std(std::vector<double>{}).sd == 0);
  CHECK(mean_std(std::vector<double>{4.5}).mean == 4.5);
  CHECK(mean_std(std::vector<double>{4.5}).sd == 0);
  // Closed form: {1, 2, 3, 4} has mean 2.5 and sample variance 5/3.
  Samples s;
  for (double v : {1.0, 2.0, 3.0, 4.0}) s.add(v);
  CHECK(s.mean() == 2.5);
  CHECK(s.sd() == doctest::Approx(std::sqrt(5.0 / 3.0)).epsilon(1e-15));
  // Identical values: at most rounding of the mean (1 ulp of 0.3 ~ 5.6e-17), never the negative
  // variance (NaN sd) a one-pass formula can produce.
  const double sd = mean_std(std::vector<double>(7, 0.1 + 0.2)).sd;
  CHECK(sd >= 0);
  CHECK(sd < 1e-16);
}
