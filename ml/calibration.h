// The calibration protocol: ADC ranges of a programmed chip are set from a fixed, seeded subset
// of the TRAINING data (the calibration set, drawn outside the held-out validation part), never from the data being evaluated. Calibrating on
// the evaluated split is possible only through CalibrationOptions::on_test_data, and the set's
// source then says so.
#pragma once
#include <torch/script.h>

#include <cstdint>
#include <string>

#include "ml/image_data.h"
#include "ml/task.h"

namespace xbar {

struct CalibrationOptions {
  int64_t samples = 256;      // images (fashion_mnist) or context windows (text)
  uint64_t seed = 1;          // which samples: the first `samples` of a permutation seeded by this
  bool on_test_data = false;  // draw from the evaluated split instead: leaks test data into the chip
};

struct CalibrationSet {
  Task task = Task::fashion_mnist;
  std::string split;    // train, or test (fashion_mnist) / valid (text) when on_test_data
  std::string data;     // fashion_mnist: the image data set's name (data::ImageData::name)
  int64_t samples = 0;  // as requested (text: capped by the windows available)
  uint64_t seed = 0;
  at::Tensor images;    // fashion_mnist: the calibration images [samples, 1, 28, 28]
  at::Tensor indices;   // fashion_mnist: their indices in the split
  at::Tensor tokens;    // text: the split's tokens (windows are cut at the model's context)
  bool leaks() const { return split != "train"; }
  // Provenance stored with the ranges: "fashion_mnist train 256 samples seed 1", followed by
  // " (<data set>)" for image data other than fashion-mnist.
  std::string source() const;
};

// ConfigError for samples < 1. images: the image data set (task fashion_mnist).
CalibrationSet load_calibration_set(Task task, const CalibrationOptions& o, const data::ImageData& images = {});

// The forward input of the calibration pass; `indices` (if given) receives which samples (image
// or window indices of the split) it holds. context: text window length (0: the model's).
at::Tensor calibration_inputs(const CalibrationSet& c, const torch::jit::Module& m, at::Tensor* indices = nullptr);

// Calibrates the chip m holds now (after program_chip / drift) when some layer needs ranges;
// false (nothing read) otherwise.
bool calibrate(torch::jit::Module& m, const CalibrationSet& c);
// The same for the layers only a decode method reaches (torch/calibrate.h calibrate_decode_module);
// evaluate_decode calls it. False when no layer lacked ranges.
bool calibrate_decode(torch::jit::Module& m, const CalibrationSet& c);

// The training data is split once: a held-out validation part (for choosing calibration
// settings such as the ADC percentile; never the test set) and the part calibration sets are
// drawn from. Images: the last kHeldOutImages training images are held out (the last
// kHeldOutFraction of them when that is fewer, i.e. below 50,000 training images); text: the
// last kHeldOutFraction of the training tokens. Hardware-aware training trains on the rest and
// evaluates its epochs on the held-out part.
constexpr int64_t kHeldOutImages = 5000;
constexpr double kHeldOutFraction = 0.1;
// Held-out images of a training set of n images / tokens of a training text of n tokens.
int64_t held_out_images(int64_t n);
int64_t held_out_tokens(int64_t n);

}  // namespace xbar
