// The data of hardware-aware training, for either task: training batches from the training data
// with the held-out validation part removed (ml/calibration.h), the validation set every epoch is
// evaluated on, and the test set, evaluated once when training ends.
#pragma once
#include <torch/script.h>

#include <cstdint>
#include <string>
#include <utility>

#include "ml/evaluate.h"
#include "ml/image_data.h"
#include "ml/task.h"

namespace xbar {

struct HwaData {
  Task task = Task::fashion_mnist;
  std::string name;       // the data set ("fashion-mnist", "fortunes")
  data::Normalisation norm;  // images: the normalisation the training images were given
  data::ImageSet train;   // images: the training images before the held-out part
  at::Tensor tokens;      // text: the training tokens before the held-out part
  int64_t context = 0;    // text: window length (the model's context_len)
  int64_t examples = 0;   // per epoch: images, or windows of context + 1 tokens
  EvalData valid, test;

  // An epoch's example order, a function of (seed, epoch) only: a permutation of the images, or
  // random window starts (text).
  at::Tensor epoch_order(uint64_t seed, int epoch) const;
  // Batch b of an epoch: (model input, target).
  std::pair<at::Tensor, at::Tensor> batch(const at::Tensor& order, int64_t b, int64_t size) const;
  // Mean cross-entropy of the logits (nats).
  at::Tensor loss(const at::Tensor& logits, const at::Tensor& target) const;
};

// The model's task from its xbar_task attribute (none: image classification). image_dir: ""
// = the default image data. valid_samples / test_samples: images or characters (0: all).
// max_examples: at most this many examples per epoch (0: all).
HwaData load_hwa_data(const torch::jit::Module& m, const std::string& image_dir, int64_t valid_samples,
                      int64_t test_samples, int64_t max_examples);

}  // namespace xbar
