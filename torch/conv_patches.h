// Patch rows of a 2-D convolution's input: the weights stay stationary on the tiles and each
// output pixel is one input vector, so the input becomes rows (n, ho, wo) x columns (c, i, j),
// channel-major like at::im2col's, with zero padding.
#pragma once
#include <ATen/ATen.h>

namespace xbar {

struct ConvGeometry {
  int64_t kh = 1, kw = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1;
  int64_t out_h = 0, out_w = 0;
};

// x: N x C x H x W (float32 or float64). Returns (N out_h out_w) x (C kh kw) in x's dtype.
// Written by one loop over the output rows (no padded copy, no strided 6-D view); under autograd
// (x requires grad) through unfold views instead, so gradients reach x.
at::Tensor conv_patches(const at::Tensor& x, const ConvGeometry& g);
// Rows [first, first + count) of conv_patches(x, g) into out (row-major, C kh kw wide); x
// contiguous float32 (a read that takes the patches a block at a time, engine/row_source.h).
void conv_patch_rows(const at::Tensor& x, const ConvGeometry& g, int64_t first, int64_t count, float* out);

}  // namespace xbar
