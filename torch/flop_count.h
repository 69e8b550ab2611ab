// FLOP measurement of a converted graph: xbar::flops_probe(out, operand, row, weight) returns
// `out` unchanged and adds the FLOPs (2 per multiply-accumulate) of the product that produced it
// to report row `row`: 2 |out| K with K = operand[0].numel() for a weight product (operand: the
// out x in weight, or the O x C x k convolution weight) and K = operand.size(-1) for a product
// of activations (operand: the left factor). One measurement at a time per process.
#pragma once
#include <ATen/ATen.h>

#include <map>

namespace xbar {

at::Tensor op_flops_probe(const at::Tensor& out, const at::Tensor& operand, int64_t row, bool weight);
void flop_count_reset();
std::map<int64_t, double> flop_count_take();  // FLOPs per row since the reset

}  // namespace xbar
