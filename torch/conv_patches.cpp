#include "torch/conv_patches.h"

#include <ATen/Parallel.h>

#include <algorithm>


namespace xbar {

namespace {

// Autograd-capable: windows of the padded input as a strided view, copied once into rows;
// dilated through im2col.
at::Tensor patches_autograd(const at::Tensor& x, const ConvGeometry& g) {
  const int64_t N = x.size(0), K = x.size(1) * g.kh * g.kw;  // explicit: -1 is ambiguous for an empty batch
  if (g.dil_h != 1 || g.dil_w != 1) {
    const at::Tensor cols = at::im2col(x, {g.kh, g.kw}, {g.dil_h, g.dil_w}, {g.pad_h, g.pad_w}, {g.stride_h, g.stride_w});
    return cols.transpose(1, 2).reshape({N * g.out_h * g.out_w, K});
  }
  const at::Tensor xp = (g.pad_h || g.pad_w) ? at::constant_pad_nd(x, {g.pad_w, g.pad_w, g.pad_h, g.pad_h}) : x;
  const at::Tensor win = xp.unfold(2, g.kh, g.stride_h).unfold(3, g.kw, g.stride_w);
  return win.permute({0, 2, 3, 1, 4, 5}).reshape({N * g.out_h * g.out_w, K});
}

// Output columns whose kw taps all fall inside the input row: [lo, hi).
struct Interior {
  int64_t lo = 0, hi = 0;
};
Interior interior(const ConvGeometry& g, int64_t W) {
  Interior r{g.out_w, g.out_w};
  for (int64_t wo = 0; wo < g.out_w; ++wo) {
    const int64_t w0 = wo * g.stride_w - g.pad_w;
    if (w0 >= 0 && w0 + (g.kw - 1) * g.dil_w < W) {
      if (r.lo == g.out_w) r.lo = wo;
      r.hi = wo + 1;
    }
  }
  if (r.lo == g.out_w) r.lo = r.hi = 0;
  return r;
}

// Rows (n, ho, wa .. wb) of the patches, written input row by input row: for channel c and
// kernel row i, every output column takes its kw taps of input row h (zeros outside the image).
// The block of at most out_w rows stays in L1 while it is filled. KW > 0: the kernel width known
// at compile time (the common 1, 3, 5, 7: the taps unroll); 0: any width. out: row (n, ho, wa).
template <int KW, class T>
void fill_rows(const T* x, int64_t C, int64_t H, int64_t W, const ConvGeometry& g, Interior in, int64_t n,
               int64_t ho, int64_t wa, int64_t wb, T* out) {
  const int64_t kw = KW > 0 ? KW : g.kw, K = C * g.kh * kw, sw = g.stride_w, dw = g.dil_w;
  const int64_t lo = std::clamp(in.lo, wa, wb), hi = std::clamp(in.hi, lo, wb);
  for (int64_t c = 0; c < C; ++c) {
    const T* xc = x + (n * C + c) * H * W;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t col = (c * g.kh + i) * kw;
      const int64_t h = ho * g.stride_h - g.pad_h + i * g.dil_h;
      if (h < 0 || h >= H) {
        for (int64_t wo = wa; wo < wb; ++wo)
          for (int64_t j = 0; j < kw; ++j) out[(wo - wa) * K + col + j] = T(0);
        continue;
      }
      const T* xr = xc + h * W;
      auto edge = [&](int64_t wo) {
        for (int64_t j = 0; j < kw; ++j) {
          const int64_t w = wo * sw - g.pad_w + j * dw;
          out[(wo - wa) * K + col + j] = w >= 0 && w < W ? xr[w] : T(0);
        }
      };
      for (int64_t wo = wa; wo < lo; ++wo) edge(wo);
      for (int64_t wo = lo; wo < hi; ++wo) {
        T* dst = out + (wo - wa) * K + col;
        const T* src = xr + (wo * sw - g.pad_w);  // interior: at or after xr
        for (int64_t j = 0; j < kw; ++j) dst[j] = src[j * dw];
      }
      for (int64_t wo = hi; wo < wb; ++wo) edge(wo);
    }
  }
}

// Patch rows [first, first + count) into out (row-major, C kh kw wide), one (n, ho) segment at
// a time. Pure copies: any split of the rows gives the same patches.
template <class T>
void fill_range(const T* x, int64_t C, int64_t H, int64_t W, const ConvGeometry& g, int64_t first, int64_t count,
                T* out) {
  const Interior in = interior(g, W);
  const int64_t K = C * g.kh * g.kw, seg_first = first / g.out_w, seg_end = (first + count + g.out_w - 1) / g.out_w;
  auto run = [&](auto fill) {
    at::parallel_for(seg_first, seg_end, 1, [&](int64_t a, int64_t b) {
      for (int64_t r = a; r < b; ++r) {
        const int64_t wa = std::max(first, r * g.out_w) - r * g.out_w;
        const int64_t wb = std::min(first + count, (r + 1) * g.out_w) - r * g.out_w;
        fill(x, C, H, W, g, in, r / g.out_h, r % g.out_h, wa, wb, out + (r * g.out_w + wa - first) * K);
      }
    });
  };
  switch (g.kw) {
    case 1: run(fill_rows<1, T>); break;
    case 3: run(fill_rows<3, T>); break;
    case 5: run(fill_rows<5, T>); break;
    case 7: run(fill_rows<7, T>); break;
    default: run(fill_rows<0, T>);
  }
}

}  // namespace

at::Tensor conv_patches(const at::Tensor& x, const ConvGeometry& g) {
  if (at::GradMode::is_enabled() && x.requires_grad()) return patches_autograd(x, g);
  const at::Tensor xc = x.contiguous();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = C * g.kh * g.kw;
  at::Tensor out = at::empty({N * g.out_h * g.out_w, K}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "xbar::conv_patches", [&] {
    fill_range(xc.data_ptr<scalar_t>(), C, H, W, g, 0, out.size(0), out.data_ptr<scalar_t>());
  });
  return out;
}

void conv_patch_rows(const at::Tensor& x, const ConvGeometry& g, int64_t first, int64_t count, float* out) {
  TORCH_CHECK(x.scalar_type() == at::kFloat && x.is_contiguous() && x.dim() == 4,
              "conv_patch_rows: x must be a contiguous 4-D float32 tensor, got ", x.sizes(), " ", x.scalar_type());
  const int64_t rows = x.size(0) * g.out_h * g.out_w;
  TORCH_CHECK(first >= 0 && count >= 0 && first + count <= rows, "conv_patch_rows: rows [", first, ", ",
              first + count, ") outside the ", rows, " patch rows");
  fill_range(x.data_ptr<float>(), x.size(1), x.size(2), x.size(3), g, first, count, out);
}

}  // namespace xbar
