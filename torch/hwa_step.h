// The steps of hardware-aware (noise-aware) training that both front ends share: `xbar train --hwa`
// (apps/hwa.cpp) calls them directly, Python's xbar.hwa through the ops of torch/hwa_op.cpp. A step
// programs a fresh training chip (hwa_train_chip: never one of the evaluation chips 0, 1, 2, ...)
// with the training policy (drift time t_train, read noise optionally off), runs the forward in
// calibration mode (the batch sets the training chip's ADC ranges), back-propagates with
// straight-through gradients (torch/ops.cpp), and after the optimizer step clips the weights and
// keeps the learned input ranges positive. Export: the trained parameters copied into the float
// model, and the evaluation policy with each learned range as that layer's static DAC range.
#pragma once
#include <torch/script.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/enum_names.h"
#include "engine/policy.h"
#include "torch/layer_state.h"

namespace xbar {

// Weight clipping after each step: none, |w| <= clip_value, or |w| <= clip_value * std per layer.
enum class WeightClip { none, fixed, sigma };
template <>
struct EnumNames<WeightClip> {
  static constexpr EnumName<WeightClip> table[] = {
      {WeightClip::none, "none"}, {WeightClip::fixed, "fixed"}, {WeightClip::sigma, "sigma"}};
};

// The chip of training step `step` (run seed `seed`): >= 2^40, so never an evaluation chip.
int64_t hwa_train_chip(uint64_t seed, int64_t step);

// The cosine learning rate at step s of n (xbar train and train --hwa; ml/train.h lr_at): linear
// warm-up over min(200, n / 20) steps (at least 1), then cosine from `peak` down to 0.1 peak.
// Here so that Python's loop (torch.ops.xbar.hwa_cosine_lr) gets the CLI's values bit for bit.
double cosine_lr(int64_t s, int64_t n, double peak);

// The evaluation policy as trained: drift to t_train_s (< 0: the policy's run.t_inference_s) and,
// unless read_noise, device.read_noise_scale = 0. ConfigError for an invalid result.
Policy hwa_training_policy(const Policy& eval, double t_train_s, bool read_noise);

// The layers HWA trains: analog weight products (XbarLayer::trainable) whose weight is the
// parameter "<layer name>.weight" (a functional weight has nothing to clip), with that parameter.
struct HwaTrained {
  std::vector<c10::intrusive_ptr<XbarLayer>> layers;
  std::vector<at::Tensor> weights;
  std::vector<int64_t> layer_index, param_index;  // positions in the lists they were chosen from
};
HwaTrained hwa_trained(const std::vector<c10::intrusive_ptr<XbarLayer>>& layers,
                       const std::vector<std::string>& param_names, const std::vector<at::Tensor>& params);
HwaTrained hwa_trained(const torch::jit::Module& m);

// The learned input ranges of the layers that have one (the optimizer's second parameter group).
std::vector<at::Tensor> hwa_ranges(const std::vector<c10::intrusive_ptr<XbarLayer>>& layers);

// After every optimizer step: weights clipped as `clip` says, learned ranges kept >= 1e-6.
void hwa_constrain(const std::vector<at::Tensor>& weights, const std::vector<at::Tensor>& ranges, WeightClip clip,
                   double clip_value);

// `base` with one literal-match rule per layer with a learned range (in layer-name order):
// dac.range = "static", dac.static_range = the range. Layers without one keep the policy's range.
Policy hwa_ranged_policy(const Policy& base, const std::vector<c10::intrusive_ptr<XbarLayer>>& layers);

// Every parameter of `to` (the float model) set to the same-named one of `from` (the trained,
// converted model); nothing is copied unless the two name the same parameters with the same shapes:
// Error naming a parameter given twice, missing on either side, or with both shapes.
void hwa_copy_params(const std::vector<std::pair<std::string, at::Tensor>>& from, torch::jit::Module& to);
std::vector<std::pair<std::string, at::Tensor>> named_params(const torch::jit::Module& m);

}  // namespace xbar
