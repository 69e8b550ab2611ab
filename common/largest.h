// The r-th largest of a stream of floats, exactly, without keeping the stream: a buffer of the
// values above a floor, cut back to its r largest (which raises the floor) whenever it reaches
// 2r + 1024 values. A value at or below the floor can no longer be among the r largest, so
// dropping it leaves the answer unchanged; the answer does not depend on the order of the values
// or on how streams are split and merged. Cost: one compare per value plus a linear-time cut per
// r + 1024 kept values; memory at most 2r + 1024 floats.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "common/fast_math.h"

namespace xbar {

class LargestSelector {
 public:
  explicit LargestSelector(size_t r = 1) : r_(std::max<size_t>(1, r)) {}

  void add(float v) {
    if (v > floor_) {
      kept_.push_back(v);
      if (kept_.size() >= 2 * r_ + 1024) cut();
    }
  }
  // Adds |v[i]| for i < n (finite values). Blocks whose largest magnitude is at or below the floor
  // are skipped whole (a vectorized maximum).
  void add_abs(const float* v, size_t n) {
    constexpr size_t kBlock = 64;
    for (size_t b = 0; b < n; b += kBlock) {
      const size_t e = std::min(n, b + kBlock);
      if (floor_ >= 0.0f && fastm::abs_max(v + b, e - b) <= floor_) continue;
      for (size_t i = b; i < e; ++i) add(std::abs(v[i]));
    }
  }
  void merge(const LargestSelector& o) {
    for (float v : o.kept_) add(v);
  }
  // The r-th largest value added; when fewer than r were added, the smallest (0 when none).
  float value() {
    if (kept_.empty()) return 0.0f;
    const size_t k = std::min(r_, kept_.size()) - 1;
    std::nth_element(kept_.begin(), kept_.begin() + std::ptrdiff_t(k), kept_.end(), std::greater<float>());
    return kept_[k];
  }

 private:
  void cut() {
    std::nth_element(kept_.begin(), kept_.begin() + std::ptrdiff_t(r_ - 1), kept_.end(), std::greater<float>());
    kept_.resize(r_);
    floor_ = kept_[r_ - 1];
  }

  size_t r_;
  float floor_ = -std::numeric_limits<float>::infinity();
  std::vector<float> kept_;
};

}  // namespace xbar
