// Kernels of the xbar operators (schemas in torch/register.cpp). Forward runs the crossbar
// emulation; backward is the straight-through estimator: the gradient of the ideal float product
// (noise and quantization act in the forward pass only).
#pragma once
#include <ATen/ATen.h>

#include "torch/layer_state.h"

namespace xbar {

at::Tensor op_linear(const at::Tensor& x, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                     const c10::intrusive_ptr<XbarLayer>& state);
at::Tensor op_conv2d(const at::Tensor& x, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                     at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                     const c10::intrusive_ptr<XbarLayer>& state);
// Grouped convolution (groups > 1, depthwise) maps the groups' weights to the diagonal blocks of
// one layer; the counters' occupancy counts only the cells of the blocks.
at::Tensor op_conv1d(const at::Tensor& x, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                     at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                     const c10::intrusive_ptr<XbarLayer>& state);
at::Tensor op_matmul(const at::Tensor& a, const at::Tensor& b, const c10::intrusive_ptr<XbarLayer>& state);

}  // namespace xbar
