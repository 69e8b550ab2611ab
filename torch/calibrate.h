// The calibration pass of a converted module: every xbar layer in calibration mode while the
// calibration inputs go through the model once, so layers with calibrated ADC ranges set them
// from what they read there (each layer from the outputs of the calibrated layers before it).
#pragma once
#include <torch/script.h>

#include <string>

namespace xbar {

// True when some layer of m reads through calibrated ADC ranges.
bool needs_calibration(const torch::jit::Module& m);

// Calibration mode of every xbar layer of m for the lifetime of the object (also for training
// forwards, which calibrate on their own training batch).
class CalibrationMode {
 public:
  explicit CalibrationMode(const torch::jit::Module& m);
  ~CalibrationMode();
  CalibrationMode(const CalibrationMode&) = delete;
  CalibrationMode& operator=(const CalibrationMode&) = delete;

 private:
  torch::jit::Module m_;
};

// One forward of `inputs` (a whole calibration set, one batch; module in eval mode) in calibration mode on the chip m
// holds now; every layer then carries `source` (data set, split, count, seed). Throws Error when a
// layer that needs ranges was not reached, unless m has a decode method (such a layer, which a
// per-phase policy gives its own config, is left to calibrate_decode_module).
void calibrate_module(torch::jit::Module& m, const at::Tensor& inputs, const std::string& source);

// Layers still without ranges (only decode reaches them) calibrate on the same inputs through
// decode from empty KV caches, which computes what forward computes; the other layers read with
// their ranges. Run right before decoding, after any prefill evaluation, so that one reads exactly
// as it does without these layers. False (nothing read) when no layer lacked ranges.
bool calibrate_decode_module(torch::jit::Module& m, const at::Tensor& inputs, const std::string& source);

}  // namespace xbar
