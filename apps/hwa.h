// Hardware-aware (noise-aware) training of a float TorchScript classifier through the crossbar
// emulation (Rasch et al. 2023; Joshi et al. 2020). The model is converted with a policy; every
// step programs a fresh chip (programming noise at the weights' own conductances, faults, drift to
// the training time, optionally read noise), reads through DAC and ADC, and back-propagates with
// straight-through gradients (torch/ops.cpp). Weights are clipped after every step; input
// ranges can be learned per layer. Checkpoints every epoch make an interrupted run resume on the
// same curve; the result is exported as a plain TorchScript model, a policy carrying the learned
// input ranges, and the converted analog model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/enum_names.h"

namespace xbar {

// Weight clipping after each step: none, |w| <= clip_value, or |w| <= clip_value * std per layer.
enum class WeightClip { none, fixed, sigma };
template <>
struct EnumNames<WeightClip> {
  static constexpr EnumName<WeightClip> table[] = {
      {WeightClip::none, "none"}, {WeightClip::fixed, "fixed"}, {WeightClip::sigma, "sigma"}};
};

struct HwaOptions {
  std::string model;              // float TorchScript classifier (Fashion-MNIST, [B,1,28,28] -> [B,10])
  std::string policy;             // policy TOML ("" = every stage ideal)
  std::string device;             // HDF5 device file for every operator ("" = the policy's device)
  std::vector<std::string> set;   // key=value overrides of the policy's default config
  std::string out;                // output directory
  int epochs = 2;
  int64_t batch = 64;
  double lr = 5e-4;               // peak Adam learning rate of the weights
  double range_lr = 1e-2;         // peak Adam learning rate of the learned input ranges
  uint64_t seed = 1;              // data order and the training chips' noise
  double t_train_s = -1;          // drift time during training (< 0: the policy's run.t_inference_s)
  bool read_noise = true;         // false: device.read_noise_scale = 0 while training
  WeightClip clip = WeightClip::sigma;
  double clip_value = 2.5;
  bool learn_ranges = true;       // learn each analog linear/conv layer's input (DAC) range
  int64_t eval_samples = 2000;    // test images of the per-epoch evaluation (0 = all)
  int eval_chips = 2;             // chips (0 .. n-1, as xbar eval) of the per-epoch evaluation
  int64_t max_examples = 0;       // train on the first N training images only (0 = all)
  int stop_after_epochs = 0;      // end this invocation after N more epochs (0 = run to the end)
  bool progress = true;
};

struct HwaEpoch {
  int epoch = 0;
  int64_t step = 0;
  double train_loss = 0;                 // mean over the epoch
  double float_acc = 0;                  // % on the evaluation images, weights read exactly
  double chip_acc = 0, chip_acc_std = 0; // % over the evaluation chips
};

struct HwaResult {
  std::vector<HwaEpoch> epochs;  // every finished epoch, including those of earlier invocations
  bool finished = false;         // all epochs done and the exports written
  bool resumed = false;
};

// Files in opt.out: checkpoint.pt, train_log.csv (step, epoch, lr, loss), epochs.csv,
// and when finished model.pt (plain float TorchScript), policy.toml (the policy with the learned
// input ranges as per-layer overrides), model_analog.pt (converted with it; chip 0, calibrated on
// training images when the policy calibrates its ADC).
HwaResult train_hwa(const HwaOptions& opt);

// Training chips never coincide with the evaluation chips 0, 1, 2, ...
int64_t hwa_train_chip(uint64_t seed, int64_t step);

}  // namespace xbar
