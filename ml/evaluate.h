// Task metrics of a (converted or float) TorchScript model: test accuracy (%) on an IDX image data
// set (Fashion-MNIST by default) or
// bits per character of the character LM on the fortunes validation split (prefill).
#pragma once
#include <torch/script.h>

#include <string>

#include "ml/calibration.h"
#include "ml/image_data.h"
#include "ml/task.h"
#include "ml/text_corpus.h"

namespace xbar {

struct EvalData {
  Task task = Task::fashion_mnist;
  data::ImageSet images;        // task fashion_mnist: the first `samples` test images
  std::string data;             // the data set's name: the image directory's (fashion-mnist) or "fortunes"
  at::Tensor tokens;            // task text: the first `samples` validation tokens
  int64_t context = 0;          // task text: window length (the model's context_len)
  CalibrationSet calibration;   // training samples that set a chip's calibrated ranges (calibrate())
  std::string metric() const { return task == Task::text ? "bits_per_char" : "accuracy_percent"; }
};

// Which data an evaluation reads: the test set, or the held-out part of the training data.
enum class EvalSplit { test, heldout };
template <>
struct EnumNames<EvalSplit> {
  static constexpr EnumName<EvalSplit> table[] = {{EvalSplit::test, "test"}, {EvalSplit::heldout, "heldout"}};
};

// samples = 0: the whole test / validation set. images: the image data set (task fashion_mnist).
EvalData load_eval_data(Task task, int64_t samples, int64_t context, const CalibrationOptions& cal = {},
                        const data::ImageData& images = {});
// The held-out part of the training data (ml/calibration.h) as evaluation data, for choosing
// calibration settings or training epochs without touching the test set (samples = 0: all of it).
EvalData load_validation_data(Task task, int64_t samples, int64_t context, const CalibrationOptions& cal = {},
                              const data::ImageData& images = {});
// "10000 test images of fashion-mnist" / "249407 validation characters of fortunes".
std::string describe(const EvalData& d, const std::string& split);
// InputError unless forward takes exactly one input (images or tokens).
void require_single_input(const torch::jit::Module& m);
double evaluate(torch::jit::Module& m, const EvalData& d);
// Task text: bits per character when generating through the model's KV-cache `decode` method one
// token at a time (the decode phase), over the first `windows` windows of the context length.
// Layers only decode reaches (per-phase policies) first calibrate on d.calibration (calibrate_decode).
double evaluate_decode(torch::jit::Module& m, const EvalData& d, int64_t windows);
// Inferences one evaluate() makes: images, or predicted tokens (task text); and one
// evaluate_decode(): generated tokens.
int64_t eval_inferences(const torch::jit::Module& m, const EvalData& d);
int64_t decode_inferences(const torch::jit::Module& m, const EvalData& d, int64_t windows);

}  // namespace xbar
