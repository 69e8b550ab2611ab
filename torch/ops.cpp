#include "torch/ops.h"

#include <c10/util/accumulate.h>
#include <torch/csrc/autograd/custom_function.h>

#include "torch/conv_patches.h"

namespace xbar {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

namespace {

void check_float(const at::Tensor& t, const char* op, const char* arg) {
  TORCH_CHECK(t.device().is_cpu(), op, ": ", arg, " must be a CPU tensor, got ", t.device());
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, op, ": ", arg,
              " must be float32 or float64, got ", t.scalar_type());
}

// y = x W^T + b through the crossbar; straight-through gradients of the float product.
struct LinearFn : public torch::autograd::Function<LinearFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x2d, const at::Tensor& w,
                            const c10::optional<at::Tensor>& b, const c10::intrusive_ptr<XbarLayer>& s) {
    ctx->save_for_backward({x2d, w});
    ctx->saved_data["has_bias"] = b.has_value() && b->defined();
    at::AutoDispatchBelowADInplaceOrView guard;
    return s->linear(x2d, w, b);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1], &g = grad[0];
    at::Tensor gb = ctx->saved_data["has_bias"].toBool() ? g.sum(0) : at::Tensor();
    return {g.mm(w.to(g.scalar_type())), g.t().mm(x.to(g.scalar_type())).to(w.scalar_type()), gb, at::Tensor()};
  }
};

// Noise-aware training with a learned input range r: y = r * crossbar(clamp(x / r)) + b, which
// is the crossbar read through a static DAC of range r. Straight-through for the weights and the
// unclipped inputs; for r the gradient of r * q(clamp(x / r)) with the rounding treated as
// identity inside (LSQ, Esser et al. 2020): q(v) - v for unclipped, sign(v) for clipped entries.
// The DAC input u = clamp(x / r) and the output r y + b of the read y of u.
at::Tensor ranged_input_of(const at::Tensor& x, double rv, const XbarLayer& s) {
  return (x / rv).clamp(s.dac_signed() ? -1.0 : 0.0, 1.0);
}
at::Tensor ranged_output(const at::Tensor& y, const c10::optional<at::Tensor>& b, double rv) {
  at::Tensor out = y * rv;
  if (b && b->defined()) out = out + b->to(out.scalar_type());
  return out;
}
at::Tensor ranged_read(const at::Tensor& x2d, const at::Tensor& w, const c10::optional<at::Tensor>& b, double rv,
                       XbarLayer& s) {
  return ranged_output(s.linear(ranged_input_of(x2d, rv, s), w, c10::nullopt), b, rv);
}

void save_dac(AutogradContext* ctx, const XbarLayer& s) {
  ctx->saved_data["levels"] = int64_t(s.dac_levels());
  ctx->saved_data["signed"] = s.dac_signed();
}

// The backward's view of the DAC input v = x / r: where it is inside the range, and clamp(v).
struct RangedInput {
  at::Tensor inside, u;
};
RangedInput ranged_input(AutogradContext* ctx, const at::Tensor& x, double rv) {
  const double lo = ctx->saved_data["signed"].toBool() ? -1.0 : 0.0;
  const at::Tensor v = x / rv;
  return {(v > lo).logical_and(v < 1.0), v.clamp(lo, 1.0)};
}

// d loss / d r from the gradient gu w.r.t. the DAC output r * u.
at::Tensor range_grad(AutogradContext* ctx, const at::Tensor& gu, const RangedInput& in, const at::Tensor& r) {
  const int64_t L = ctx->saved_data["levels"].toInt();
  const at::Tensor qerr = L > 0 ? at::round(in.u * double(L)) / double(L) - in.u : at::zeros_like(in.u);
  const at::Tensor dr = at::where(in.inside, qerr, in.u);  // clipped: u = +-1 (or 0 below an unsigned DAC)
  return (gu * dr).sum().to(r.scalar_type()).reshape(r.sizes());
}

struct RangedLinearFn : public torch::autograd::Function<RangedLinearFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x2d, const at::Tensor& w,
                            const c10::optional<at::Tensor>& b, const at::Tensor& r,
                            const c10::intrusive_ptr<XbarLayer>& s) {
    ctx->save_for_backward({x2d, w, r});
    ctx->saved_data["has_bias"] = b.has_value() && b->defined();
    save_dac(ctx, *s);
    at::AutoDispatchBelowADInplaceOrView guard;
    return ranged_read(x2d, w, b, r.item<double>(), *s);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1], &r = saved[2], &g = grad[0];
    const double rv = r.item<double>();
    const RangedInput in = ranged_input(ctx, x.to(g.scalar_type()), rv);
    const at::Tensor gu = g.mm(w.to(g.scalar_type()));  // gradient w.r.t. the DAC output r * u
    const at::Tensor gr = range_grad(ctx, gu, in, r);
    at::Tensor gb = ctx->saved_data["has_bias"].toBool() ? g.sum(0) : at::Tensor();
    return {gu * in.inside, g.t().mm(in.u * rv).to(w.scalar_type()), gb, gr, at::Tensor()};
  }
};

// A convolution: the forward reads the patch rows (conv_patches) through the crossbar like the
// linear ops above; the backward is the float convolution's, straight-through as above, computed
// in input space by at::convolution_backward rather than through the patch copies. Every patch
// entry is a copy of one input entry (or padding, whose DAC input is 0 and whose gradient terms
// vanish), so the range mask and the range gradient, which depend only on the entry's value, are
// the same per input entry, and summing them over the copies is what the convolution's input
// gradient does.
struct ConvArgs {
  ConvGeometry geo;
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups = 1;
};

struct ConvFn : public torch::autograd::Function<ConvFn> {
  // Tensor arguments of forward, in order. Autograd numbers only those given (an absent optional
  // has no input edge), so needs_input_grad takes the count of given ones before.
  enum Arg { kArgX, kArgPatches, kArgWeight, kArgBias, kArgR };
  static bool needs_grad(AutogradContext* ctx, Arg arg) {
    const bool given[] = {true, ctx->saved_data["has_patches"].toBool(), true, ctx->saved_data["has_bias"].toBool(), true};
    size_t edge = 0;
    for (int k = 0; k < arg; ++k) edge += given[k] ? 1 : 0;
    return ctx->needs_input_grad(edge);
  }

  // patches: conv_patches(x) (no gradient through them), or none (the read then takes the patch
  // rows a block at a time); r: the learned input range, if any.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const c10::optional<at::Tensor>& patches,
                            const at::Tensor& weight, const c10::optional<at::Tensor>& b,
                            const c10::optional<at::Tensor>& r, const ConvArgs& a,
                            const c10::intrusive_ptr<XbarLayer>& s) {
    const bool ranged = r.has_value() && r->defined();
    ctx->save_for_backward({x, weight, ranged ? *r : at::Tensor()});
    ctx->saved_data["has_bias"] = b.has_value() && b->defined();
    ctx->saved_data["has_patches"] = patches.has_value();
    ctx->saved_data["stride"] = a.stride;
    ctx->saved_data["padding"] = a.padding;
    ctx->saved_data["dilation"] = a.dilation;
    ctx->saved_data["groups"] = a.groups;
    save_dac(ctx, *s);
    at::AutoDispatchBelowADInplaceOrView guard;
    const int64_t N = x.size(0), O = weight.size(0), K = x.size(1) * a.geo.kh * a.geo.kw;
    // Groups: im2col orders columns channel-major, so group g reads columns [g K/G, (g+1) K/G) and
    // its weights form the g-th diagonal block of one O x K matrix (zeros elsewhere).
    const at::Tensor w2d = weight.reshape({O, K / a.groups});
    const at::Tensor w = a.groups == 1 ? w2d : s->block_diagonal(w2d, a.groups);
    const double rv = ranged ? r->item<double>() : 1.0;
    at::Tensor y;
    if (patches) {
      y = ranged ? ranged_read(*patches, w, b, rv, *s) : s->linear(*patches, w, b);
    } else {
      // The patch rows are filled a block at a time as the read takes them. A patch entry is a
      // copy of an entry of x or padding (0, which the range maps to 0), so x is ranged first.
      const at::Tensor xc = (ranged ? ranged_input_of(x.detach(), rv, *s) : x.detach()).contiguous();
      const RowSource rows{N * a.geo.out_h * a.geo.out_w, K, [&](Eigen::Index first, Eigen::Index n, float* out) {
                             conv_patch_rows(xc, a.geo, first, n, out);
                           }};
      y = ranged ? ranged_output(s->linear(rows, w, c10::nullopt), b, rv) : s->linear(rows, w, b);
    }
    // The products are channels-last; the output takes the memory format ATen's convolution gives
    // (its input's): a channels-last input keeps them as they are, any other gets them contiguous
    // N x O x H x W (a model may .view() it).
    const at::Tensor out = y.reshape({N, a.geo.out_h * a.geo.out_w, O}).transpose(1, 2).reshape({N, O, a.geo.out_h, a.geo.out_w});
    return x.suggest_memory_format() == at::MemoryFormat::ChannelsLast ? out : out.contiguous();
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &weight = saved[1], &r = saved[2], &g = grad[0];
    const bool ranged = r.defined(), has_bias = ctx->saved_data["has_bias"].toBool();
    at::Tensor input = x.to(g.scalar_type());
    RangedInput in;
    if (ranged) {
      in = ranged_input(ctx, input, r.item<double>());
      input = in.u * r.item<double>();  // what the weights were multiplied with
    }
    const std::vector<int64_t> stride = ctx->saved_data["stride"].toIntVector(),
                               padding = ctx->saved_data["padding"].toIntVector(),
                               dilation = ctx->saved_data["dilation"].toIntVector();
    const std::vector<int64_t> bias_sizes{weight.size(0)};
    auto [gx, gw, gb] = at::convolution_backward(
        g, input, weight.to(g.scalar_type()), has_bias ? at::OptionalIntArrayRef(bias_sizes) : c10::nullopt, stride,
        padding, dilation, false, std::vector<int64_t>(stride.size(), 0), ctx->saved_data["groups"].toInt(),
        {ctx->needs_input_grad(0) || (ranged && needs_grad(ctx, kArgR)), needs_grad(ctx, kArgWeight), has_bias});
    at::Tensor gr;
    if (ranged) {
      if (needs_grad(ctx, kArgR)) gr = range_grad(ctx, gx, in, r);
      if (ctx->needs_input_grad(0)) gx = gx * in.inside;
    }
    if (!ctx->needs_input_grad(0)) gx = at::Tensor();
    return {gx, at::Tensor(), gw.defined() ? gw.to(weight.scalar_type()) : gw, gb, gr, at::Tensor(), at::Tensor()};
  }
};

// a @ b with b written to the array per call; gradients of the float product.
struct MatmulFn : public torch::autograd::Function<MatmulFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b,
                            const c10::intrusive_ptr<XbarLayer>& s) {
    ctx->save_for_backward({a, b});
    at::AutoDispatchBelowADInplaceOrView guard;
    // Leading dimensions broadcast like torch.matmul; each (batch, head) slice is its own array.
    const auto batch = at::infer_size(a.sizes().slice(0, a.dim() - 2), b.sizes().slice(0, b.dim() - 2));
    std::vector<int64_t> as(batch), bs(batch);
    as.push_back(a.size(-2));
    as.push_back(a.size(-1));
    bs.push_back(b.size(-2));
    bs.push_back(b.size(-1));
    // Explicit sizes: -1 is ambiguous when a dimension is 0 (an empty batch).
    const int64_t slices = c10::multiply_integers(batch);
    const at::Tensor A = a.expand(as).reshape({slices, a.size(-2), a.size(-1)});
    const at::Tensor B = b.expand(bs).reshape({slices, b.size(-2), b.size(-1)});
    std::vector<int64_t> os(batch);
    os.push_back(a.size(-2));
    os.push_back(b.size(-1));
    return s->matmul_batch(A, B).reshape(os);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &a = saved[0], &b = saved[1], &g = grad[0];
    at::Tensor ga = g.matmul(b.transpose(-2, -1)), gb = a.transpose(-2, -1).matmul(g);
    // Sum over broadcast leading dimensions back to each operand's shape.
    auto reduce = [](at::Tensor t, const at::Tensor& like) {
      while (t.dim() > like.dim()) t = t.sum(0);
      for (int64_t d = 0; d < like.dim() - 2; ++d)
        if (like.size(d) == 1 && t.size(d) != 1) t = t.sum(d, true);
      return t;
    };
    return {reduce(ga, a), reduce(gb, b), at::Tensor()};
  }
};

}  // namespace

at::Tensor op_linear(const at::Tensor& x, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                     const c10::intrusive_ptr<XbarLayer>& state) {
  check_float(x, "xbar::linear", "x");
  check_float(weight, "xbar::linear", "weight");
  TORCH_CHECK(weight.dim() == 2, "xbar::linear: weight must be 2-D (out x in), got sizes ", weight.sizes());
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "xbar::linear: x has ", x.dim() ? x.size(-1) : 0,
              " features (sizes ", x.sizes(), ") but weight expects ", weight.size(1), " (sizes ", weight.sizes(), ")");
  if (bias && bias->defined())
    TORCH_CHECK(bias->dim() == 1 && bias->size(0) == weight.size(0), "xbar::linear: bias has sizes ", bias->sizes(),
                ", expected [", weight.size(0), "]");
  std::vector<int64_t> out_shape(x.sizes().begin(), x.sizes().end());
  out_shape.back() = weight.size(0);
  const at::Tensor x2d = x.reshape({-1, weight.size(1)});
  const at::Tensor r = state->input_range(x2d);
  const at::Tensor y = r.defined() ? RangedLinearFn::apply(x2d, weight, bias, r, state)
                                   : LinearFn::apply(x2d, weight, bias, state);
  return y.reshape(out_shape);
}

at::Tensor op_conv2d(const at::Tensor& x, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                     at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                     const c10::intrusive_ptr<XbarLayer>& state) {
  check_float(x, "xbar::conv2d", "x");
  check_float(weight, "xbar::conv2d", "weight");
  TORCH_CHECK(x.dim() == 4, "xbar::conv2d: x must be N x C x H x W, got sizes ", x.sizes());
  TORCH_CHECK(weight.dim() == 4, "xbar::conv2d: weight must be O x C x kH x kW, got sizes ", weight.sizes());
  TORCH_CHECK(groups >= 1 && weight.size(0) % groups == 0, "xbar::conv2d: groups must be >= 1 and divide the ",
              weight.size(0), " output channels, got groups = ", groups);
  TORCH_CHECK(x.size(1) == weight.size(1) * groups, "xbar::conv2d: x has ", x.size(1), " channels, weight expects ",
              weight.size(1) * groups, " (", weight.size(1), " per group, ", groups, " groups)");
  if (bias && bias->defined())
    TORCH_CHECK(bias->dim() == 1 && bias->size(0) == weight.size(0), "xbar::conv2d: bias has sizes ", bias->sizes(),
                ", expected [", weight.size(0), "]");
  TORCH_CHECK(stride.size() == 2 && padding.size() == 2 && dilation.size() == 2,
              "xbar::conv2d: stride, padding and dilation must have 2 entries");
  const int64_t kh = weight.size(2), kw = weight.size(3);
  const int64_t Ho = (x.size(2) + 2 * padding[0] - dilation[0] * (kh - 1) - 1) / stride[0] + 1;
  const int64_t Wo = (x.size(3) + 2 * padding[1] - dilation[1] * (kw - 1) - 1) / stride[1] + 1;
  TORCH_CHECK(Ho > 0 && Wo > 0, "xbar::conv2d: output would be empty for input sizes ", x.sizes());
  const ConvGeometry geo{kh, kw, stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1], Ho, Wo};
  // The patches are materialized only for a float64 x and for a learned range's first value
  // (a percentile of the patch entries).
  const bool stream = x.scalar_type() == at::kFloat && (!state->learns_input_range() || state->input_range().defined());
  const c10::optional<at::Tensor> patches = stream ? c10::nullopt : c10::make_optional(conv_patches(x.detach(), geo));
  const at::Tensor r = stream ? state->input_range() : state->input_range(*patches);
  const ConvArgs args{geo, stride.vec(), padding.vec(), dilation.vec(), groups};
  return ConvFn::apply(x, patches, weight, bias, r.defined() ? c10::optional<at::Tensor>(r) : c10::nullopt, args,
                       state);
}

at::Tensor op_conv1d(const at::Tensor& x, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                     at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                     const c10::intrusive_ptr<XbarLayer>& state) {
  TORCH_CHECK(x.dim() == 3 && weight.dim() == 3, "xbar::conv1d: x must be N x C x L and weight O x C x k, got sizes ",
              x.sizes(), " and ", weight.sizes());
  TORCH_CHECK(stride.size() == 1 && padding.size() == 1 && dilation.size() == 1,
              "xbar::conv1d: stride, padding and dilation must have 1 entry");
  // A 1-D convolution is a 2-D one over a height-1 image. Its output is contiguous, as ATen's
  // (3-D tensors have no channels-last format; an N x L x C input transposed looks like one).
  return op_conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, {1, stride[0]}, {0, padding[0]}, {1, dilation[0]}, groups,
                   state)
      .squeeze(2)
      .contiguous();
}

at::Tensor op_matmul(const at::Tensor& a, const at::Tensor& b, const c10::intrusive_ptr<XbarLayer>& state) {
  check_float(a, "xbar::matmul", "a");
  check_float(b, "xbar::matmul", "b");
  TORCH_CHECK(a.dim() >= 1 && b.dim() >= 1, "xbar::matmul: operands must not be scalars, got sizes ", a.sizes(),
              " and ", b.sizes());
  // 1-D operands as torch.matmul treats them: a vector is a 1 x k row (a) or a k x 1 column (b).
  if (a.dim() == 1 && b.dim() == 1) return op_matmul(a.unsqueeze(0), b.unsqueeze(-1), state).reshape({});
  if (a.dim() == 1) return op_matmul(a.unsqueeze(0), b, state).squeeze(-2);
  if (b.dim() == 1) return op_matmul(a, b.unsqueeze(-1), state).squeeze(-1);
  TORCH_CHECK(a.size(-1) == b.size(-2), "xbar::matmul: inner sizes differ: a ", a.sizes(), ", b ", b.sizes());
  return MatmulFn::apply(a, b, state);
}

}  // namespace xbar
