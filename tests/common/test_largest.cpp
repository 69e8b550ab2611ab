// LargestSelector against a full sort: the r-th largest of random streams, exactly (equality of
// floats: the selector only compares and copies values, so no tolerance applies), for ranks from
// the largest to the smallest, streams with many ties, and streams split and merged in any order.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "common/largest.h"

using namespace xbar;

namespace {
float sorted_rank(std::vector<float> v, size_t r) {
  std::sort(v.begin(), v.end(), std::greater<float>());
  return v[r - 1];
}
}  // namespace

TEST_CASE("largest: the r-th largest of a stream equals the sorted one, for every kind of rank") {
  std::mt19937 g(11);
  for (int ties : {0, 1}) {
    for (size_t n : {1, 7, 1500, 20000}) {
      std::vector<float> x(n);
      std::normal_distribution<float> nd(0.f, 3.f);
      for (auto& v : x) v = ties ? std::round(nd(g)) : nd(g);  // ties: a few dozen distinct values
      for (size_t r : {size_t(1), size_t(2), size_t(17), n / 3 + 1, n}) {
        if (r > n) continue;
        std::vector<float> a(n);
        std::transform(x.begin(), x.end(), a.begin(), [](float v) { return std::abs(v); });
        LargestSelector s(r);
        s.add_abs(x.data(), n);
        CAPTURE(n);
        CAPTURE(r);
        CAPTURE(ties);
        CHECK(s.value() == sorted_rank(a, r));
      }
    }
  }
}

TEST_CASE("largest: streams split into parts and merged give the same value as one stream") {
  std::mt19937 g(5);
  std::vector<float> x(50000);
  std::exponential_distribution<float> ed(1.f);
  for (auto& v : x) v = ed(g);
  for (size_t r : {size_t(1), size_t(5), size_t(4000)}) {
    const float want = sorted_rank(x, r);
    // Three parts of unequal sizes, merged in two different orders.
    LargestSelector a(r), b(r), c(r);
    for (size_t i = 0; i < x.size(); ++i) (i < 1000 ? a : i < 31000 ? b : c).add(x[i]);
    LargestSelector m1(r), m2(r);
    m1.merge(a), m1.merge(b), m1.merge(c);
    m2.merge(c), m2.merge(a), m2.merge(b);
    CHECK(m1.value() == want);
    CHECK(m2.value() == want);
  }
}

TEST_CASE("largest: fewer values than the rank give the smallest; none give 0") {
  LargestSelector s(10);
  CHECK(s.value() == 0.f);
  for (float v : {3.f, 1.f, 2.f}) s.add(v);
  CHECK(s.value() == 1.f);
}
