// Learned input ranges (noise-aware training): the forward equals a static DAC of range r, and the
// gradients for x, W, b and r agree with finite differences of that forward (unquantized DAC) or
// with the straight-through / LSQ definitions computed independently here (quantizing DAC).
#include "tests/torch/torch_doctest.h"

#include <cmath>

#include "torch/conv_patches.h"
#include "torch/ops.h"

using namespace xbar;
using namespace xbar::test;

namespace {

// Inputs with no entry within `gap` of +-r: the clamp's kinks stay outside every finite difference.
at::Tensor away_from(double r, double gap, at::IntArrayRef sizes) {
  at::Tensor x = at::randn(sizes, at::TensorOptions(at::kDouble)) * r;
  const at::Tensor near = (x.abs() - r).abs() < gap;
  return at::where(near, x * 0.5, x);
}

c10::intrusive_ptr<XbarLayer> ranged_layer(const std::string& toml, double r) {
  auto l = make_layer(toml);
  l->learn_input_range(true);
  l->set_input_range(r);
  return l;
}

}  // namespace

TEST_CASE("learned range, unquantized DAC: forward is linear(clamp(x, -r, r)); gradients match finite differences") {
  at::manual_seed(11);
  const double r = 1.3;
  const at::Tensor x0 = away_from(r, 0.05, {6, 9}), w0 = at::randn({5, 9}, at::kDouble), b0 = at::randn({5}, at::kDouble);
  REQUIRE((x0.abs() > r).any().item<bool>());  // some inputs clip, so d/dr is not trivially zero
  auto f = [&](const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, double rv) {
    return op_linear(x, w, b, ranged_layer(kIdealToml, rv));
  };
  // Forward: the engine computes in float32 (2e-6 relative, as for the ideal linear op).
  CHECK(rel_err(f(x0, w0, b0, r), at::linear(x0.clamp(-r, r), w0, b0)) < 2e-6);

  auto layer = ranged_layer(kIdealToml, r);
  at::Tensor x = x0.clone().set_requires_grad(true), w = w0.clone().set_requires_grad(true),
             b = b0.clone().set_requires_grad(true);
  const at::Tensor y = op_linear(x, w, b, layer);
  const at::Tensor R = at::randn(y.sizes(), at::kDouble);
  (y * R).sum().backward();
  const at::Tensor gr = layer->input_range().grad();
  REQUIRE(gr.defined());
  // The loss is piecewise linear; a central difference with eps below the 0.05 gap is exact up to
  // the float32 forward: |dL| <~ 2^-22 sum|y R| per evaluation, over 2 eps. Tolerance 8x that.
  const double eps = 0.02, tol = 8 * std::ldexp(1.0, -22) * (y * R).abs().sum().item<double>() / eps + 1e-9;
  auto loss = [&](const at::Tensor& xx, const at::Tensor& ww, const at::Tensor& bb, double rv) {
    return (f(xx, ww, bb, rv) * R).sum().item<double>();
  };
  double worst = 0;
  auto fd_tensor = [&](const at::Tensor& base, const at::Tensor& grad, int which) {
    for (int64_t i = 0; i < base.numel(); ++i) {
      at::Tensor p = base.clone(), m = base.clone();
      p.view(-1)[i] += eps;
      m.view(-1)[i] -= eps;
      const double lp = which == 0 ? loss(p, w0, b0, r) : which == 1 ? loss(x0, p, b0, r) : loss(x0, w0, p, r);
      const double lm = which == 0 ? loss(m, w0, b0, r) : which == 1 ? loss(x0, m, b0, r) : loss(x0, w0, m, r);
      worst = std::max(worst, std::abs((lp - lm) / (2 * eps) - grad.view(-1)[i].item<double>()));
    }
  };
  fd_tensor(x0, x.grad(), 0);
  fd_tensor(w0, w.grad(), 1);
  fd_tensor(b0, b.grad(), 2);
  const double fd_r = (loss(x0, w0, b0, r + eps) - loss(x0, w0, b0, r - eps)) / (2 * eps);
  INFO("worst |FD - autograd| over x, W, b: " << worst << ", tolerance " << tol << "; d/dr FD " << fd_r << " autograd "
                                               << gr.item<double>());
  CHECK(worst < tol);
  CHECK(std::abs(fd_r - gr.item<double>()) < tol);
  CHECK(std::abs(fd_r) > 0.1);  // not vacuous
}

TEST_CASE("learned range, 4-bit DAC: forward quantizes clamp(x/r) to 7 levels; x, W, r gradients are STE / LSQ") {
  at::manual_seed(12);
  const double r = 0.9;
  const int L = 7;  // 4-bit signed DAC: 2^3 - 1 magnitude levels
  const char* toml = "[device]\nmodel = \"ideal\"\n[dac]\nbits = 4\n";
  const at::Tensor x0 = at::randn({8, 12}, at::kDouble), w0 = at::randn({6, 12}, at::kDouble), b0 = at::randn({6}, at::kDouble);
  auto layer = ranged_layer(toml, r);
  at::Tensor x = x0.clone().set_requires_grad(true), w = w0.clone().set_requires_grad(true);
  const at::Tensor y = op_linear(x, w, b0, layer);
  // Independent reference in double: u = clamp(x / r), q = round(u L) / L, y = (r q) W^T + b.
  const at::Tensor u = (x0 / r).clamp(-1, 1), q = at::round(u * L) / L;
  CHECK(rel_err(y, at::linear(q * r, w0, b0)) < 2e-6);
  const at::Tensor G = at::randn(y.sizes(), at::kDouble);
  (y * G).sum().backward();
  const at::Tensor gu = G.mm(w0), inside = (x0 / r).abs() < 1;
  CHECK(rel_err(x.grad(), gu * inside) < 1e-12);           // STE inside the range, zero where clipped
  CHECK(rel_err(w.grad(), G.t().mm(u * r)) < 1e-12);        // STE through the quantizer
  const double lsq = (gu * at::where(inside, q - u, u.sign())).sum().item<double>();
  CHECK(layer->input_range().grad().item<double>() == doctest::Approx(lsq).epsilon(1e-10));
}

TEST_CASE("learned ranges apply to analog linear/conv layers only; bad values are rejected") {
  auto digital = make_layer(kIdealToml, "linear", "digital");
  digital->learn_input_range(true);
  CHECK_FALSE(digital->learns_input_range());
  auto attn = make_layer(kIdealToml, "attn_qk");
  attn->learn_input_range(true);
  CHECK_FALSE(attn->learns_input_range());
  auto l = make_layer(kIdealToml);
  CHECK_THROWS_WITH(l->set_input_range(1.0), doctest::Contains("learn_input_range"));
  l->learn_input_range(true);
  CHECK_THROWS_WITH(l->set_input_range(-1.0), doctest::Contains("finite and > 0"));
  CHECK_THROWS_WITH(l->set_input_range(std::nan("")), doctest::Contains("finite and > 0"));
  // First use initialises r from the inputs: the 99.9th percentile of |x| (here 1..1000 -> 999).
  const at::Tensor x = at::arange(1, 1001, at::kFloat).reshape({10, 100});
  op_linear(x, at::randn({3, 100}), c10::nullopt, l);
  CHECK(l->input_range().item<double>() == doctest::Approx(999.0));
  CHECK(l->input_range().requires_grad());
}

TEST_CASE("learned range, conv2d: x, W, b, r gradients equal those through explicit patches (STE / LSQ per patch entry)") {
  // Reference in double, independent of the op's input-space backward: patches by at::im2col,
  // u = clamp(patches / r), q = round(u L) / L, y = (r q) W^T + b per patch row; gradients by
  // the definitions per patch entry, scattered back to x by at::col2im. Tolerance 1e-12 relative:
  // both sides are double products and sums of the same terms in different orders.
  at::manual_seed(13);
  const double r = 0.8;
  const int L = 7;
  for (bool is_signed : {true, false}) {
    for (int64_t groups : {1, 2}) {
      CAPTURE(is_signed);
      CAPTURE(groups);
      const std::string toml = std::string("[device]\nmodel = \"ideal\"\n[dac]\nbits = ") + (is_signed ? "4" : "3") +
                               "\nis_signed = " + (is_signed ? "true" : "false") + "\n";
      const at::Tensor x0 = at::randn({2, 4, 7, 6}, at::kDouble), w0 = at::randn({6, 4 / groups, 3, 2}, at::kDouble),
                       b0 = at::randn({6}, at::kDouble);
      auto layer = make_layer(toml, "conv");
      layer->learn_input_range(true);
      layer->set_input_range(r);
      at::Tensor x = x0.clone().set_requires_grad(true), w = w0.clone().set_requires_grad(true),
                 b = b0.clone().set_requires_grad(true);
      const at::Tensor y = op_conv2d(x, w, b, {2, 1}, {1, 1}, {1, 2}, groups, layer);
      const at::Tensor G = at::randn(y.sizes(), at::kDouble);
      (y * G).sum().backward();

      const int64_t N = 2, O = 6, Ho = y.size(2), Wo = y.size(3);
      const at::Tensor P = at::im2col(x0, {3, 2}, {1, 2}, {1, 1}, {2, 1}).transpose(1, 2).reshape({-1, 4 * 3 * 2});
      const double lo = is_signed ? -1.0 : 0.0;
      const at::Tensor v = P / r, u = v.clamp(lo, 1.0), q = at::round(u * L) / L;
      const at::Tensor inside = (v > lo).logical_and(v < 1.0);
      const at::Tensor W = at::block_diag(w0.reshape({O, -1}).split(O / groups));  // O x (C k k)
      const at::Tensor yref = (q * r).mm(W.t()) + b0;
      CHECK(rel_err(y, yref.reshape({N, Ho * Wo, O}).transpose(1, 2).reshape({N, O, Ho, Wo})) < 2e-6);
      const at::Tensor G2 = G.reshape({N, O, Ho * Wo}).transpose(1, 2).reshape({-1, O});
      const at::Tensor gu = G2.mm(W);
      const at::Tensor gx = at::col2im((gu * inside).reshape({N, Ho * Wo, -1}).transpose(1, 2), {7, 6}, {3, 2}, {1, 2},
                                       {1, 1}, {2, 1});
      CHECK(rel_err(x.grad(), gx) < 1e-12);
      const at::Tensor gW = G2.t().mm(u * r);  // O x (C k k): keep each group's diagonal block
      std::vector<at::Tensor> blocks;
      const int64_t og = O / groups, kg = gW.size(1) / groups;
      for (int64_t g = 0; g < groups; ++g) blocks.push_back(gW.slice(0, g * og, (g + 1) * og).slice(1, g * kg, (g + 1) * kg));
      CHECK(rel_err(w.grad(), at::cat(blocks, 0).reshape(w0.sizes())) < 1e-12);
      CHECK(rel_err(b.grad(), G2.sum(0)) < 1e-12);
      const double lsq = (gu * at::where(inside, q - u, u)).sum().item<double>();
      CHECK(layer->input_range().grad().item<double>() == doctest::Approx(lsq).epsilon(1e-10));
      CHECK(std::abs(lsq) > 1e-3);  // not vacuous
    }
  }
}

TEST_CASE("learned range, float32 conv2d with and without bias: the block-wise read equals the read of ranged patches, bit for bit") {
  // After its first call (which sets r from the patches), a ranged conv ranges x and reads its
  // patches a block at a time; the reference ranges explicit patches and reads them whole on a
  // twin layer (same chip). PCM noise and a noisy 8-bit ADC, so any change of order shows.
  const char* toml = "[device]\nmodel = \"pcm\"\n[dac]\nbits = 8\n[adc]\nbits = 8\nnoise_sigma_lsb = 0.5\n";
  at::manual_seed(17);
  const at::Tensor x0 = at::randn({5, 24, 19, 17}), w0 = at::randn({10, 24, 3, 3}) * 0.1, b0 = at::randn({10});
  for (bool has_bias : {true, false}) {
    CAPTURE(has_bias);
    auto layer = make_layer(toml, "conv"), ref = make_layer(toml, "conv");
    layer->learn_input_range(true);
    ref->learn_input_range(true);
    layer->set_input_range(0.9);
    const c10::optional<at::Tensor> b = has_bias ? c10::optional<at::Tensor>(b0) : c10::nullopt;
    at::Tensor x = x0.clone().set_requires_grad(true), w = w0.clone().set_requires_grad(true);
    const at::Tensor y = op_conv2d(x, w, b, {1, 1}, {1, 1}, {1, 1}, 1, layer);
    const ConvGeometry g{3, 3, 1, 1, 1, 1, 1, 1, 19, 17};
    const at::Tensor u = (conv_patches(x0, g) / 0.9).clamp(-1.0, 1.0);
    at::Tensor yr = ref->linear(u, w0.reshape({10, -1}), c10::nullopt) * 0.9;
    if (has_bias) yr = yr + b0;
    CHECK(at::equal(y.detach(), yr.reshape({5, 19 * 17, 10}).transpose(1, 2).reshape({5, 10, 19, 17})));
    // Without a bias the range is the fourth tensor argument: its gradient still arrives.
    y.pow(2).sum().backward();
    REQUIRE(layer->input_range().grad().defined());
    CHECK(std::abs(layer->input_range().grad().item<double>()) > 0);
    CHECK(w.grad().defined());
    CHECK(x.grad().defined());
  }
}
