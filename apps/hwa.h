// Hardware-aware (noise-aware) training of a float TorchScript model (an image classifier or the
// character GPT) through the crossbar
// emulation (Rasch et al. 2023; Joshi et al. 2020). The model is converted with a policy; every
// step programs a fresh chip (programming noise at the weights' own conductances, faults, drift to
// the training time, optionally read noise), reads through DAC and ADC, and back-propagates with
// straight-through gradients (torch/ops.cpp). Weights are clipped after every step; input
// ranges can be learned per layer. Training uses the training data without its held-out part; every
// epoch is evaluated on that held-out validation part, the test set once at the end (apps/hwa_data.h).
// The per-step pieces are torch/hwa_step.h, shared with Python's xbar.hwa.
// Checkpoints every epoch make an interrupted run resume on the same curve; the result is exported as a plain TorchScript model, a policy carrying the learned
// input ranges, and the converted analog model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ml/train.h"
#include "torch/hwa_step.h"

namespace xbar {

struct HwaOptions {
  std::string model;              // float TorchScript model: image classifier or character GPT (its xbar_task)
  std::string data;               // image classifiers: directory of IDX image data ("" = the default)
  std::string policy;             // policy TOML ("" = every stage ideal)
  std::string device;             // HDF5 device file for every operator ("" = the policy's device)
  std::vector<std::string> set;   // key=value overrides of the policy's default config
  std::string out;                // output directory
  int epochs = 2;
  int64_t batch = 64;
  double lr = 5e-4;               // peak Adam learning rate of the weights
  double range_lr = 1e-2;         // peak Adam learning rate of the learned input ranges
  models::LrSchedule schedule = models::LrSchedule::cosine;
  uint64_t seed = 1;              // data order and the training chips' noise
  double t_train_s = -1;          // drift time during training (< 0: the policy's run.t_inference_s)
  bool read_noise = true;         // false: device.read_noise_scale = 0 while training
  WeightClip clip = WeightClip::sigma;
  double clip_value = 2.5;
  bool learn_ranges = true;       // learn each analog linear/conv layer's input (DAC) range
  int64_t eval_samples = 2000;    // held-out images / characters of the per-epoch validation (0 = all)
  int64_t test_samples = 0;       // test images / validation characters of the final test (0 = all)
  int eval_chips = 2;             // chips (0 .. n-1, as xbar eval) of every evaluation
  int64_t max_examples = 0;       // examples per epoch: the first N training images / N windows (0 = all)
  int stop_after_epochs = 0;      // end this invocation after N more epochs (0 = run to the end)
  bool progress = true;
};

// A task metric with the weights read exactly (float) and over the evaluation chips.
struct HwaMetric {
  double float_value = 0;
  double chip_mean = 0, chip_std = 0;
};

struct HwaEpoch {
  int epoch = 0;
  int64_t step = 0;
  double train_loss = 0;  // mean over the epoch (cross-entropy; text: bits per character)
  HwaMetric valid;        // on the held-out validation data
};

struct HwaResult {
  std::string metric;            // accuracy_percent or bits_per_char
  std::string data;              // the data set's name
  std::vector<HwaEpoch> epochs;  // every finished epoch, including those of earlier invocations
  bool finished = false;         // all epochs done, the test evaluated and the exports written
  bool resumed = false;
  HwaMetric test;                // when finished: the exported model on the test data
  std::string test_data;         // e.g. "10000 test images of fashion-mnist"
};

// Files in opt.out: checkpoint.pt, train_log.csv (step, epoch, lr, loss), epochs.csv (validation),
// and when finished test.csv (the test metric), model.pt (plain float TorchScript), policy.toml (the policy with the learned
// input ranges as per-layer overrides), model_analog.pt (converted with it; chip 0, calibrated on
// training images when the policy calibrates its ADC).
HwaResult train_hwa(const HwaOptions& opt);

}  // namespace xbar
