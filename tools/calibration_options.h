// Shared CLI options of the calibration protocol (ml/calibration.h): how many training samples
// set the calibrated ADC ranges, with which seed, and the loudly named escape to test data.
#pragma once
#include <cxxopts.hpp>
#include <iostream>

#include "ml/calibration.h"
#include "torch/convert.h"

namespace xbar::cli {

inline constexpr const char* kLeakOption = "calibrate-on-test-data-i-know-this-leaks";

inline void add_calibration_options(cxxopts::Options& opt) {
  opt.add_options()("calibration-samples", "training samples (images / context windows) of the calibration pass "
                    "that sets calibrated ADC ranges (count)", cxxopts::value<int64_t>()->default_value("256"))(
      "calibration-seed", "which training samples calibrate (seed of their permutation)",
      cxxopts::value<uint64_t>()->default_value("1"))(
      kLeakOption, "calibrate on the evaluated split instead of training data: the results have seen their test "
      "inputs (reported as such)");
}

inline CalibrationOptions calibration_options(const cxxopts::ParseResult& res) {
  CalibrationOptions o;
  o.samples = res["calibration-samples"].as<int64_t>();
  o.seed = res["calibration-seed"].as<uint64_t>();
  o.on_test_data = res.count(kLeakOption) > 0;
  return o;
}

// Prints where the ranges came from (once) and, for test-data calibration, a warning (every time).
inline void report_calibration(const torch::jit::Module& m, const CalibrationSet& c, bool first) {
  if (first) {
    std::string src;
    for (const auto& l : xbar_layers(m))
      if (l->needs_calibration()) src = l->calibration_source();
    std::cout << "calibration: " << src << "\n";
  }
  if (c.leaks())
    std::cout << "WARNING: calibrated on the evaluated data (--" << kLeakOption
              << "): these results have seen their test inputs\n";
}

}  // namespace xbar::cli
