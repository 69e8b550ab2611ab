// xbar::linear / xbar::conv2d / xbar::matmul and torch.classes.xbar.Layer, checked against ATen
// (the independent float reference), closed-form noise statistics, an independent integer
// quantizer and finite differences. Every tolerance is stated and justified where it is used.
#include "tests/torch/torch_doctest.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <unistd.h>
#include <vector>

#include "engine/assignment.h"
#include "torch/calibrate.h"
#include "torch/conv_patches.h"
#include "torch/ops.h"

using namespace xbar;
using namespace xbar::test;

namespace {

// The engine computes in float32: one product of K terms carries a rounding error of a few ulp
// of the largest partial sums. 2e-6 of the largest |output| leaves ~10x headroom over what is
// measured (~2e-7) for K <= 600 and still fails for any real error (a wrong tile, a dropped bias,
// a transposed weight: O(1)).
constexpr double kIdealTol = 2e-6;

at::Tensor randn(at::IntArrayRef s, at::ScalarType t = at::kFloat) { return at::randn(s, at::TensorOptions(t)); }

std::string tmp_path(const std::string& stem) {
  return "/tmp/xbar_test_torch_" + std::to_string(::getpid()) + "_" + stem + ".pt";
}

// A module holding one layer state and calling an xbar op from TorchScript (through the
// dispatcher and the registered schema, like a converted model).
torch::jit::Module linear_module(const at::Tensor& w, const at::Tensor& b, const c10::intrusive_ptr<XbarLayer>& st) {
  torch::jit::Module m("XbarLinearNet");
  m.register_parameter("w", w, false);
  m.register_parameter("b", b, false);
  m.register_attribute("state", c10::getCustomClassType<c10::intrusive_ptr<XbarLayer>>(), c10::IValue(st));
  define_with_xbar(m, R"(
def forward(self, x):
    return xbar.linear(x, self.w, self.b, self.state)
)");
  return m;
}

// Independent symmetric per-tensor quantizer in double: levels = 2^(bits-1) - 1 per sign.
at::Tensor quantize_ref(const at::Tensor& t, int bits) {
  at::Tensor d = t.to(at::kDouble).contiguous().clone();
  const double L = std::ldexp(1.0, bits - 1) - 1.0;
  double m = 0;
  const double* p = d.data_ptr<double>();
  for (int64_t i = 0; i < d.numel(); ++i) m = std::max(m, std::abs(p[i]));
  double* q = d.data_ptr<double>();
  for (int64_t i = 0; i < d.numel(); ++i) q[i] = std::nearbyint(q[i] * L / m) * m / L;
  return d;
}

}  // namespace

TEST_CASE("the xbar operator schemas are registered (the test links xbar_torch with --no-as-needed)") {
  for (const char* op : {"xbar::linear", "xbar::conv2d", "xbar::matmul"}) {
    INFO(op);
    CHECK_NOTHROW(c10::Dispatcher::singleton().findSchemaOrThrow(op, ""));
  }
}

TEST_CASE("ideal linear equals at::linear (leading dims, bias, several row and column tiles)") {
  at::manual_seed(1);
  struct Case {
    std::vector<int64_t> x;
    int64_t out;
    bool bias;
  };
  // 600 inputs x 300 outputs spans 3 x 2 tiles of 256 x 256; 1-D and 3-D inputs.
  for (const Case& c : {Case{{8, 70}, 40, true}, Case{{3, 5, 70}, 40, false}, Case{{70}, 9, true},
                        Case{{16, 600}, 300, true}}) {
    const at::Tensor x = randn(c.x), w = randn({c.out, c.x.back()}), b = randn({c.out});
    auto st = make_layer(kIdealToml);
    const c10::optional<at::Tensor> bias = c.bias ? c10::optional<at::Tensor>(b) : c10::nullopt;
    const at::Tensor y = op_linear(x, w, bias, st), ref = at::linear(x, w, bias);
    INFO("x " << x.sizes() << " w " << w.sizes() << " rel " << rel_err(y, ref));
    CHECK((y.sizes() == ref.sizes()));
    CHECK((y.scalar_type() == at::kFloat));
    CHECK(rel_err(y, ref) < kIdealTol);
    // A second read (weights already programmed) gives the same result.
    CHECK(torch::equal(op_linear(x, w, bias, st), y));
  }
}

TEST_CASE("conv_patches equals at::im2col's columns as rows, exactly (float32 and float64)") {
  at::manual_seed(4);
  // Kernel widths with their own code path (1, 3, 5, 7) and the generic one (2, 4), padding
  // wider than the kernel's reach, strides and dilations, an input narrower than the kernel.
  const std::vector<ConvGeometry> cases = {
      {3, 3, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 0, 0, 1, 1}, {1, 1, 1, 1, 0, 0, 1, 1}, {2, 5, 1, 2, 1, 2, 1, 1},
      {5, 7, 2, 3, 3, 4, 1, 2}, {3, 2, 2, 1, 0, 1, 2, 1}, {4, 4, 3, 1, 2, 5, 1, 3}, {7, 7, 2, 2, 3, 3, 1, 1}};
  for (const auto dtype : {at::kFloat, at::kDouble})
    for (ConvGeometry g : cases) {
      const at::Tensor x = randn({2, 3, 9, 6}).to(dtype);
      g.out_h = (x.size(2) + 2 * g.pad_h - g.dil_h * (g.kh - 1) - 1) / g.stride_h + 1;
      g.out_w = (x.size(3) + 2 * g.pad_w - g.dil_w * (g.kw - 1) - 1) / g.stride_w + 1;
      const at::Tensor cols = at::im2col(x, {g.kh, g.kw}, {g.dil_h, g.dil_w}, {g.pad_h, g.pad_w}, {g.stride_h, g.stride_w});
      const at::Tensor ref = cols.transpose(1, 2).reshape({-1, cols.size(1)});
      const at::Tensor p = conv_patches(x, g);
      INFO("kernel " << g.kh << "x" << g.kw << " stride " << g.stride_h << "," << g.stride_w << " padding " << g.pad_h
                     << "," << g.pad_w << " dilation " << g.dil_h << "," << g.dil_w);
      REQUIRE((p.sizes() == ref.sizes()));
      CHECK((p.scalar_type() == dtype));
      CHECK(at::equal(p, ref));
      // Under autograd the patches are views of x (the gradient reaches x), with the same values.
      const at::Tensor xg = x.clone().requires_grad_(true);
      const at::Tensor pg = conv_patches(xg, g);
      CHECK(pg.requires_grad());
      CHECK(at::equal(pg.detach(), ref));
    }
}

TEST_CASE("conv_patch_rows: any range of rows equals those rows of conv_patches, exactly") {
  at::manual_seed(5);
  // Ranges starting and ending inside an output row (n, ho), spanning images, empty, and whole.
  const std::vector<ConvGeometry> cases = {{3, 3, 1, 1, 1, 1, 1, 1}, {2, 5, 1, 2, 1, 2, 1, 1}, {5, 7, 2, 3, 3, 4, 1, 2}};
  for (ConvGeometry g : cases) {
    const at::Tensor x = randn({3, 2, 9, 11});
    g.out_h = (x.size(2) + 2 * g.pad_h - g.dil_h * (g.kh - 1) - 1) / g.stride_h + 1;
    g.out_w = (x.size(3) + 2 * g.pad_w - g.dil_w * (g.kw - 1) - 1) / g.stride_w + 1;
    const at::Tensor ref = conv_patches(x, g);
    const int64_t rows = ref.size(0), K = ref.size(1);
    for (const auto& [first, count] : std::vector<std::pair<int64_t, int64_t>>{
             {0, rows}, {1, g.out_w}, {g.out_w - 1, 2}, {3, rows - 5}, {rows / 2, 0}, {rows - 1, 1}}) {
      INFO("kernel " << g.kh << "x" << g.kw << " rows [" << first << ", " << first + count << ") of " << rows);
      at::Tensor out = at::full({count, K}, 7.0f);
      conv_patch_rows(x, g, first, count, out.data_ptr<float>());
      CHECK(at::equal(out, ref.narrow(0, first, count)));
    }
    CHECK_THROWS_AS(conv_patch_rows(x, g, rows - 1, 2, at::empty({2, K}).data_ptr<float>()), c10::Error);
  }
}

TEST_CASE("noisy conv2d reads its patches a block at a time with linear()'s result on the whole patches, bit for bit") {
  // PCM programming and read noise, drift, 8-bit DAC and a noisy fixed-range ADC; 150 x 140 input
  // rows (patches) make several blocks, 3 x 3 x 40 = 360 inputs span two row tiles.
  const char* toml = "[device]\nmodel = \"pcm\"\n[dac]\nbits = 8\n[adc]\nbits = 8\nnoise_sigma_lsb = 0.5\n";
  at::manual_seed(6);
  const at::Tensor x = randn({6, 40, 25, 23}), w = randn({12, 40, 3, 3}) * 0.1, b = randn({12});
  for (const int64_t groups : {1, 4}) {
    CAPTURE(groups);
    const at::Tensor wg = w.narrow(1, 0, 40 / groups).contiguous();
    auto a = make_layer(toml, "conv"), ref = make_layer(toml, "conv");
    const ConvGeometry g{3, 3, 1, 1, 1, 1, 1, 1, 25, 23};
    const at::Tensor w2d = wg.reshape({12, -1});
    const at::Tensor wr = groups == 1 ? w2d : ref->block_diagonal(w2d, groups);
    for (int read = 0; read < 2; ++read) {
      const at::Tensor y = op_conv2d(x, wg, b, {1, 1}, {1, 1}, {1, 1}, groups, a);
      const at::Tensor yr =
          ref->linear(conv_patches(x, g), wr, b).reshape({6, 25 * 23, 12}).transpose(1, 2).reshape({6, 12, 25, 23});
      CHECK(at::equal(y, yr));
    }
    CHECK(a->counters() == ref->counters());
  }
}

TEST_CASE("ideal conv2d equals at::conv2d (stride, padding, dilation, non-square kernels)") {
  at::manual_seed(2);
  struct Case {
    int64_t kh, kw;
    std::vector<int64_t> stride, padding, dilation;
  };
  for (const Case& c : {Case{3, 3, {1, 1}, {0, 0}, {1, 1}}, Case{3, 3, {2, 2}, {1, 1}, {1, 1}},
                        Case{2, 5, {1, 2}, {1, 2}, {1, 1}}, Case{3, 2, {2, 1}, {0, 1}, {2, 1}},
                        Case{1, 1, {1, 1}, {0, 0}, {1, 1}}, Case{5, 3, {1, 1}, {2, 0}, {1, 3}}}) {
    const at::Tensor x = randn({2, 3, 11, 13}), w = randn({6, 3, c.kh, c.kw}), b = randn({6});
    auto st = make_layer(kIdealToml, "conv");
    const at::Tensor y = op_conv2d(x, w, b, c.stride, c.padding, c.dilation, 1, st);
    const at::Tensor ref = at::conv2d(x, w, b, c.stride, c.padding, c.dilation, 1);
    INFO("kernel " << c.kh << "x" << c.kw << " stride " << c.stride << " padding " << c.padding << " dilation "
                   << c.dilation << " rel " << rel_err(y, ref));
    REQUIRE((y.sizes() == ref.sizes()));
    CHECK(rel_err(y, ref) < kIdealTol);
    CHECK(y.strides() == ref.strides());  // ATen's memory format (a model may .view() it)
    // A channels-last input gives a channels-last output, as ATen's does.
    const at::Tensor xl = x.contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor yl = op_conv2d(xl, w, b, c.stride, c.padding, c.dilation, 1, st);
    const at::Tensor refl = at::conv2d(xl, w, b, c.stride, c.padding, c.dilation, 1);
    CHECK(yl.strides() == refl.strides());
    CHECK(rel_err(yl, refl) < kIdealTol);
  }
  // Without bias.
  const at::Tensor x = randn({1, 4, 8, 8}), w = randn({5, 4, 3, 3});
  auto st = make_layer(kIdealToml, "conv");
  const at::Tensor y = op_conv2d(x, w, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, 1, st);
  CHECK(rel_err(y, at::conv2d(x, w, {}, 1, 1, 1, 1)) < kIdealTol);
}

TEST_CASE("ideal grouped and depthwise conv2d and conv1d equal ATen's") {
  at::manual_seed(3);
  struct Case {
    int64_t cin, cout, groups;
  };
  for (const Case& c : {Case{4, 6, 2}, Case{6, 6, 6}, Case{8, 16, 8}, Case{6, 3, 3}}) {
    const at::Tensor x = randn({2, c.cin, 9, 7}), w = randn({c.cout, c.cin / c.groups, 3, 3}), b = randn({c.cout});
    auto st = make_layer(kIdealToml, "conv");
    const at::Tensor y = op_conv2d(x, w, b, {2, 1}, {1, 1}, {1, 1}, c.groups, st);
    const at::Tensor ref = at::conv2d(x, w, b, {2, 1}, {1, 1}, {1, 1}, c.groups);
    INFO("cin " << c.cin << " cout " << c.cout << " groups " << c.groups << " rel " << rel_err(y, ref));
    REQUIRE((y.sizes() == ref.sizes()));
    CHECK(rel_err(y, ref) < kIdealTol);
    CHECK(y.strides() == ref.strides());
    // The second call reads the programmed block-diagonal matrix again (no new programming).
    CHECK(rel_err(op_conv2d(x, w, b, {2, 1}, {1, 1}, {1, 1}, c.groups, st), ref) < kIdealTol);
  }
  for (int64_t groups : {1, 4}) {
    const at::Tensor x = randn({3, 8, 20}), w = randn({12, 8 / groups, 5}), b = randn({12});
    auto st = make_layer(kIdealToml, "conv");
    const at::Tensor y = op_conv1d(x, w, b, {2}, {3}, {2}, groups, st);
    const at::Tensor ref = at::conv1d(x, w, b, {2}, {3}, {2}, groups);
    INFO("conv1d groups " << groups << " rel " << rel_err(y, ref));
    REQUIRE((y.sizes() == ref.sizes()));
    CHECK(rel_err(y, ref) < kIdealTol);
    CHECK(y.strides() == ref.strides());
    // An N x L x C sequence transposed to N x C x L (strided like channels-last once unsqueezed):
    // ATen's output is contiguous all the same.
    const at::Tensor xt = randn({3, 20, 8}).transpose(1, 2);
    const at::Tensor yt = op_conv1d(xt, w, b, {2}, {3}, {2}, groups, st), reft = at::conv1d(xt, w, b, {2}, {3}, {2}, groups);
    CHECK(yt.strides() == reft.strides());
    CHECK(rel_err(yt, reft) < kIdealTol);
  }
}

TEST_CASE("grouped conv: one block-diagonal layer whose occupancy counts only the groups' cells") {
  // Depthwise 3x3 over 32 channels: a 32 x 288 block-diagonal matrix (2 row tiles of 256 rows, two
  // arrays per tile for the differential pair), of which 1/32 of the cells hold weights.
  at::manual_seed(4);
  const at::Tensor x = randn({1, 32, 6, 6}), w = randn({32, 1, 3, 3});
  auto st = make_layer("[adc]\nbits = 8\n", "conv");
  op_conv2d(x, w, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, 32, st);
  const auto c = st->counters();
  CHECK(c.at("tiles") == 2);
  CHECK(c.at("occupancy") == doctest::Approx(32.0 * 9 / (2 * 256.0 * 256)));
  // In digital mode the multiply-accumulates are the convolution's (32 channels x 36 outputs x 9
  // taps), not those of the block-diagonal matrix with its zero blocks (32 times as many).
  auto dig = make_layer(kIdealToml, "conv", "digital", 0);
  op_conv2d(x, w, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, 32, dig);
  CHECK(dig->counters().at("digital_macs") == 32 * 36 * 9);
  // Gradients reach the grouped weight: those of at::conv2d's float product (straight-through).
  const at::Tensor wg = w.clone().requires_grad_(true), wr = w.clone().requires_grad_(true);
  auto st2 = make_layer(kIdealToml, "conv");
  op_conv2d(x, wg, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, 32, st2).pow(2).sum().backward();
  at::conv2d(x, wr, {}, 1, 1, 1, 32).pow(2).sum().backward();
  CHECK(rel_err(wg.grad(), wr.grad()) < 1e-5);
}

TEST_CASE("ideal matmul equals at::matmul with broadcasting over batch and heads") {
  at::manual_seed(3);
  struct Case {
    std::vector<int64_t> a, b;
  };
  for (const Case& c : {Case{{6, 8}, {8, 5}}, Case{{2, 4, 6, 8}, {2, 4, 8, 5}}, Case{{2, 4, 6, 8}, {8, 5}},
                        Case{{6, 8}, {3, 8, 5}}, Case{{2, 1, 6, 8}, {1, 3, 8, 5}}, Case{{3, 6, 8}, {2, 1, 8, 5}}}) {
    const at::Tensor a = randn(c.a), b = randn(c.b);
    auto st = make_layer(kIdealToml, "attn_qk");
    const at::Tensor y = op_matmul(a, b, st), ref = at::matmul(a, b);
    INFO("a " << a.sizes() << " b " << b.sizes() << " rel " << rel_err(y, ref));
    REQUIRE((y.sizes() == ref.sizes()));
    CHECK(rel_err(y, ref) < kIdealTol);
  }
  // Non-contiguous operands (scores = q @ k^T with k transposed in place).
  const at::Tensor q = randn({2, 3, 7, 16}), k = randn({2, 3, 7, 16});
  auto st = make_layer(kIdealToml, "attn_qk");
  CHECK(rel_err(op_matmul(q, k.transpose(-2, -1), st), at::matmul(q, k.transpose(-2, -1))) < kIdealTol);
}

TEST_CASE("float64 inputs are accepted and the output keeps float64") {
  // The engine is float32 inside: the float64 result matches the float64 reference to float32
  // precision (kIdealTol), not to float64 precision.
  at::manual_seed(4);
  const at::Tensor x = randn({5, 30}, at::kDouble), w = randn({7, 30}, at::kDouble), b = randn({7}, at::kDouble);
  const at::Tensor y = op_linear(x, w, b, make_layer(kIdealToml));
  CHECK((y.scalar_type() == at::kDouble));
  CHECK(rel_err(y, at::linear(x, w, b)) < kIdealTol);

  const at::Tensor xi = randn({1, 2, 6, 6}, at::kDouble), wc = randn({3, 2, 3, 3}, at::kDouble);
  const at::Tensor yc = op_conv2d(xi, wc, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, 1, make_layer(kIdealToml, "conv"));
  CHECK((yc.scalar_type() == at::kDouble));
  CHECK(rel_err(yc, at::conv2d(xi, wc, {}, 1, 1)) < kIdealTol);

  const at::Tensor a = randn({2, 5, 4}, at::kDouble), bb = randn({2, 4, 3}, at::kDouble);
  const at::Tensor ym = op_matmul(a, bb, make_layer(kIdealToml, "attn_av"));
  CHECK((ym.scalar_type() == at::kDouble));
  CHECK(rel_err(ym, at::matmul(a, bb)) < kIdealTol);
}

namespace {

// Central finite differences of L = sum(f(inputs) * R) with respect to every entry of every input,
// compared with autograd. Each op is linear in each single entry, so a central difference has no
// truncation error for any step: the only error is the float32 forward inside the engine,
// |dL| <~ 2^-22 * sum|f * R| per evaluation, giving |FD - exact| <~ 2^-22 * sum|f * R| / eps.
// eps = 0.25 keeps that below ~1e-5 here; the tolerance is 8x that bound (plus 1e-9).
// Every evaluation uses a fresh layer state (programs from scratch), so the check is about the
// gradient alone, not about when a cached programmed state is refreshed (tested separately).
void check_fd(const std::function<at::Tensor(const std::vector<at::Tensor>&)>& f, std::vector<at::Tensor> in) {
  for (auto& t : in) t = t.detach().clone().to(at::kDouble).set_requires_grad(true);
  const at::Tensor y0 = f(in);
  const at::Tensor R = at::randn(y0.sizes(), at::TensorOptions(at::kDouble));
  (y0 * R).sum().backward();
  const double eps = 0.25;
  const double mag = (y0 * R).abs().sum().item<double>();
  const double tol = 8 * std::ldexp(1.0, -22) * mag / eps + 1e-9;
  double worst = 0, gmax = 0;
  for (size_t k = 0; k < in.size(); ++k) {
    const at::Tensor g = in[k].grad();
    REQUIRE(g.defined());
    std::vector<at::Tensor> p;
    for (auto& t : in) p.push_back(t.detach().clone());
    at::Tensor flat = p[k].view(-1);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      const double v = flat[i].item<double>();
      flat[i] = v + eps;
      const double lp = (f(p) * R).sum().item<double>();
      flat[i] = v - eps;
      const double lm = (f(p) * R).sum().item<double>();
      flat[i] = v;
      const double fd = (lp - lm) / (2 * eps);
      worst = std::max(worst, std::abs(fd - g.view(-1)[i].item<double>()));
      gmax = std::max(gmax, std::abs(fd));
    }
  }
  INFO("worst |FD - autograd| " << worst << ", tolerance " << tol << ", max |grad| " << gmax);
  CHECK(worst < tol);
  CHECK(gmax > 0.1);  // the check is not vacuous
}

}  // namespace

TEST_CASE("gradients agree with central finite differences in float64 (ideal config)") {
  at::manual_seed(5);
  SUBCASE("linear (x, weight, bias)") {
    check_fd([&](const std::vector<at::Tensor>& v) { return op_linear(v[0], v[1], v[2], make_layer(kIdealToml)); },
             {randn({3, 2, 4}), randn({5, 4}), randn({5})});
  }
  SUBCASE("conv2d (x, weight, bias), stride 2x1, padding 1x0, dilation 1x2") {
    check_fd([&](const std::vector<at::Tensor>& v) {
      return op_conv2d(v[0], v[1], v[2], {2, 1}, {1, 0}, {1, 2}, 1, make_layer(kIdealToml, "conv"));
    },
             {randn({1, 2, 5, 6}), randn({3, 2, 3, 2}), randn({3})});
  }
  SUBCASE("matmul (a, b) with b broadcast over the batch") {
    check_fd([&](const std::vector<at::Tensor>& v) { return op_matmul(v[0], v[1], make_layer(kIdealToml, "attn_qk")); },
             {randn({2, 3, 4}), randn({4, 5})});
  }
  SUBCASE("matmul (a, b) with both broadcast: a 2x1x3x4, b 1x2x4x2") {
    check_fd([&](const std::vector<at::Tensor>& v) { return op_matmul(v[0], v[1], make_layer(kIdealToml, "attn_av")); },
             {randn({2, 1, 3, 4}), randn({1, 2, 4, 2})});
  }
}

namespace {
const char* kPcmToml = R"(
[device]
model = "pcm"
[dac]
bits = 8
[adc]
bits = 8
[mapping]
weight_bits = 8
)";

// Gradients of L = sum(f(inputs) * R) with respect to every input (float64).
std::vector<at::Tensor> grads(const std::function<at::Tensor(const std::vector<at::Tensor>&)>& f,
                              const std::vector<at::Tensor>& in0, const at::Tensor& R, at::Tensor* out = nullptr) {
  std::vector<at::Tensor> in;
  for (const auto& t : in0) in.push_back(t.detach().clone().set_requires_grad(true));
  const at::Tensor y = f(in);
  (y * R).sum().backward();
  if (out) *out = y.detach();
  std::vector<at::Tensor> g;
  for (auto& t : in) g.push_back(t.grad());
  return g;
}
}  // namespace

TEST_CASE("backward with noise on is the ideal float gradient (straight-through: noise acts in forward only)") {
  // Two independent references: (1) the same xbar op with an ideal config: bit-identical
  // gradients (the backward never sees the forward's noise); (2) ATen's own autograd of the float
  // op: equal to float64 rounding (1e-12 relative; the forward noise is ~1e-2, 10 orders larger).
  at::manual_seed(6);
  const auto opts = at::TensorOptions(at::kDouble);
  auto compare = [&](const std::function<at::Tensor(const std::vector<at::Tensor>&, const c10::intrusive_ptr<XbarLayer>&)>& f,
                     const std::function<at::Tensor(const std::vector<at::Tensor>&)>& ref, const std::vector<at::Tensor>& in,
                     const std::string& op_class) {
    at::Tensor y_noisy, y_ideal, y_ref;
    const at::Tensor probe = ref(in);
    const at::Tensor R = at::randn(probe.sizes(), opts);
    auto noisy = make_layer(kPcmToml, op_class), ideal = make_layer(kIdealToml, op_class);
    const auto gn = grads([&](const std::vector<at::Tensor>& v) { return f(v, noisy); }, in, R, &y_noisy);
    const auto gi = grads([&](const std::vector<at::Tensor>& v) { return f(v, ideal); }, in, R, &y_ideal);
    const auto gr = grads(ref, in, R, &y_ref);
    INFO(op_class << ": forward rel error with noise " << rel_err(y_noisy, y_ref));
    CHECK(rel_err(y_noisy, y_ref) > 1e-3);  // the noise is really there in forward
    for (size_t k = 0; k < in.size(); ++k) {
      INFO("input " << k);
      REQUIRE(gn[k].defined());
      CHECK(torch::equal(gn[k], gi[k]));
      CHECK(rel_err(gn[k], gr[k]) < 1e-12);
    }
  };
  compare([](const std::vector<at::Tensor>& v, const c10::intrusive_ptr<XbarLayer>& s) { return op_linear(v[0], v[1], v[2], s); },
          [](const std::vector<at::Tensor>& v) { return at::linear(v[0], v[1], v[2]); },
          {at::randn({4, 6, 40}, opts), at::randn({30, 40}, opts), at::randn({30}, opts)}, "linear");
  compare([](const std::vector<at::Tensor>& v, const c10::intrusive_ptr<XbarLayer>& s) {
            return op_conv2d(v[0], v[1], v[2], {1, 1}, {1, 1}, {1, 1}, 1, s);
          },
          [](const std::vector<at::Tensor>& v) { return at::conv2d(v[0], v[1], v[2], 1, 1); },
          {at::randn({2, 4, 7, 7}, opts), at::randn({8, 4, 3, 3}, opts), at::randn({8}, opts)}, "conv");
  compare([](const std::vector<at::Tensor>& v, const c10::intrusive_ptr<XbarLayer>& s) { return op_matmul(v[0], v[1], s); },
          [](const std::vector<at::Tensor>& v) { return at::matmul(v[0], v[1]); },
          {at::randn({2, 3, 9, 16}, opts), at::randn({16, 9}, opts)}, "attn_qk");
}

TEST_CASE("shape and dtype errors raise c10::Error naming the op, the argument and the sizes") {
  auto st = make_layer(kIdealToml);
  const at::Tensor x = randn({3, 6}), w = randn({4, 5});
  CHECK_THROWS_AS(op_linear(x, w, c10::nullopt, st), c10::Error);
  SUBCASE("linear: wrong feature count") {
    const std::string m = c10_error_message([&] { op_linear(x, w, c10::nullopt, st); });
    INFO(m);
    CHECK(m.find("xbar::linear") != std::string::npos);
    CHECK(m.find("x has 6 features") != std::string::npos);
    CHECK(m.find("[3, 6]") != std::string::npos);
    CHECK(m.find("[4, 5]") != std::string::npos);
  }
  SUBCASE("linear: 3-D weight") {
    const std::string m = c10_error_message([&] { op_linear(randn({3, 5}), randn({4, 5, 2}), c10::nullopt, st); });
    INFO(m);
    CHECK(m.find("xbar::linear") != std::string::npos);
    CHECK(m.find("weight") != std::string::npos);
    CHECK(m.find("[4, 5, 2]") != std::string::npos);
  }
  SUBCASE("linear: integer input") {
    const std::string m =
        c10_error_message([&] { op_linear(at::ones({3, 5}, at::kLong), randn({4, 5}), c10::nullopt, st); });
    INFO(m);
    CHECK(m.find("xbar::linear: x must be float32 or float64") != std::string::npos);
    CHECK(m.find("Long") != std::string::npos);
  }
  SUBCASE("linear: bias of the wrong size") {
    const std::string m = c10_error_message([&] { op_linear(randn({3, 5}), randn({4, 5}), randn({3}), st); });
    INFO(m);
    CHECK(m.find("xbar::linear: bias") != std::string::npos);
    CHECK(m.find("[3]") != std::string::npos);
    CHECK(m.find("[4]") != std::string::npos);
  }
  SUBCASE("conv2d: groups that do not divide the output channels") {
    const std::string m = c10_error_message(
        [&] { op_conv2d(randn({1, 4, 5, 5}), randn({3, 2, 3, 3}), c10::nullopt, {1, 1}, {0, 0}, {1, 1}, 2, st); });
    INFO(m);
    CHECK(m.find("xbar::conv2d") != std::string::npos);
    CHECK(m.find("groups = 2") != std::string::npos);
  }
  SUBCASE("conv2d: channel mismatch") {
    const std::string m = c10_error_message(
        [&] { op_conv2d(randn({1, 3, 5, 5}), randn({4, 2, 3, 3}), c10::nullopt, {1, 1}, {0, 0}, {1, 1}, 1, st); });
    INFO(m);
    CHECK(m.find("xbar::conv2d") != std::string::npos);
    CHECK(m.find("3 channels") != std::string::npos);
    CHECK(m.find("expects 2") != std::string::npos);
  }
  SUBCASE("conv2d: 3-D input") {
    const std::string m = c10_error_message(
        [&] { op_conv2d(randn({3, 5, 5}), randn({4, 3, 3, 3}), c10::nullopt, {1, 1}, {0, 0}, {1, 1}, 1, st); });
    INFO(m);
    CHECK(m.find("xbar::conv2d: x") != std::string::npos);
    CHECK(m.find("[3, 5, 5]") != std::string::npos);
  }
  SUBCASE("conv2d: integer weight names conv2d and weight") {
    // The message must name the op the user called (conv2d), not the linear op it runs on.
    const std::string m = c10_error_message([&] {
      op_conv2d(randn({1, 3, 5, 5}), at::ones({4, 3, 3, 3}, at::kInt), c10::nullopt, {1, 1}, {0, 0}, {1, 1}, 1, st);
    });
    INFO(m);
    CHECK(m.find("xbar::conv2d: weight must be float32 or float64") != std::string::npos);
  }
  SUBCASE("matmul: inner sizes differ") {
    const std::string m = c10_error_message([&] { op_matmul(randn({2, 3, 4}), randn({5, 6}), st); });
    INFO(m);
    CHECK(m.find("xbar::matmul") != std::string::npos);
    CHECK(m.find("[2, 3, 4]") != std::string::npos);
    CHECK(m.find("[5, 6]") != std::string::npos);
  }
  SUBCASE("matmul: scalar operand and integer operand") {
    std::string m = c10_error_message([&] { op_matmul(randn({}), randn({4, 6}), st); });
    INFO(m);
    CHECK(m.find("xbar::matmul") != std::string::npos);
    CHECK(m.find("scalars") != std::string::npos);
    m = c10_error_message([&] { op_matmul(randn({3, 4}), at::ones({4, 6}, at::kLong), st); });
    CHECK(m.find("xbar::matmul: b must be float32 or float64") != std::string::npos);
  }
  SUBCASE("layer state: bad mode, bad digital_bits, bad config") {
    CHECK_THROWS_AS(make_layer(kIdealToml, "linear", "analogue"), c10::Error);
    CHECK(c10_error_message([&] { make_layer(kIdealToml, "linear", "digital", 1); }).find("digital_bits") !=
          std::string::npos);
    CHECK_THROWS_WITH_AS(make_layer("[adc]\nbits = -1\n"), doctest::Contains("adc.bits"), ConfigError);
  }
}

TEST_CASE("read noise through the layer: per-column variance 2 sigma^2 sum (x/r)^2 k^2 over repeated reads") {
  // normal device, read sigma 0.5 uS, no programming noise, ideal DAC/ADC, differential mapping,
  // tile scale s = max|W|, DAC absmax r = max|x|: k = s r / (g_max - g_min) output units per uS V.
  // One input vector read B = 20000 times (one batch): se of a variance estimate sqrt(2/B) = 1%,
  // averaged over 16 independent columns 0.25%: tolerance 3%. The mean is the float product
  // within 5 se per column.
  at::manual_seed(7);
  const int64_t in = 48, out = 16, B = 20000;
  const at::Tensor w = at::rand({out, in}) * 2 - 1, x = at::rand({1, in}) * 2 - 1;
  auto st = make_layer("[device]\nmodel = \"normal\"\nnormal.read_sigma_uS = 0.5\n");
  const at::Tensor Y = op_linear(x.expand({B, in}), w, c10::nullopt, st).to(at::kDouble);
  const double r = x.abs().max().item<double>(), s = w.abs().max().item<double>();
  const double sumv2 = (x.to(at::kDouble) / r).pow(2).sum().item<double>();
  const double k = s * r / 25.0;
  const double expect_var = 2 * 0.25 * sumv2 * k * k;
  const at::Tensor var = Y.var(0, /*unbiased=*/true);
  INFO("measured mean variance " << var.mean().item<double>() << ", expected " << expect_var);
  CHECK(var.mean().item<double>() == doctest::Approx(expect_var).epsilon(0.03));
  const at::Tensor ref = at::linear(x, w).to(at::kDouble).squeeze(0);
  CHECK((Y.mean(0) - ref).abs().max().item<double>() < 5 * std::sqrt(expect_var / B));
}

TEST_CASE("programming noise: over many chips (set_chip) the mean is the float output, the variance the closed form") {
  // normal device with prog sigma 0.5 uS and g_min = 5 uS (so no programmed value is clipped at
  // 0 S: 10 sigma away), no read noise: every chip is one draw of the programmed conductances.
  // Per column the output noise is N(0, 2 sigma^2 sum (x/r)^2 k^2), k = s r / (g_max - g_min).
  // K = 400 chips, 64 independent columns: se of the mean variance sqrt(2/K)/8 = 0.9%: tolerance
  // 4%; the per-column mean within 5 se of the float product.
  at::manual_seed(8);
  const int64_t in = 48, out = 64, K = 400;
  const at::Tensor w = at::rand({out, in}) * 2 - 1, x = at::rand({1, in}) * 2 - 1;
  auto st = make_layer("[device]\nmodel = \"normal\"\ng_min_uS = 5.0\nnormal.prog_sigma_uS = 0.5\n");
  std::vector<at::Tensor> ys;
  for (int64_t c = 0; c < K; ++c) {
    st->set_chip(c);
    ys.push_back(op_linear(x, w, c10::nullopt, st).to(at::kDouble).squeeze(0));
  }
  const at::Tensor Y = at::stack(ys);
  const double r = x.abs().max().item<double>(), s = w.abs().max().item<double>();
  const double sumv2 = (x.to(at::kDouble) / r).pow(2).sum().item<double>();
  const double k = s * r / 20.0;
  const double expect_var = 2 * 0.25 * sumv2 * k * k;
  const at::Tensor ref = at::linear(x, w).to(at::kDouble).squeeze(0);
  INFO("measured mean variance " << Y.var(0).mean().item<double>() << ", expected " << expect_var);
  CHECK(Y.var(0).mean().item<double>() == doctest::Approx(expect_var).epsilon(0.04));
  CHECK((Y.mean(0) - ref).abs().max().item<double>() < 5 * std::sqrt(expect_var / K));
  CHECK(st->counters().at("chip") == double(K - 1));
}

TEST_CASE("pcm: output differs from float but stays correlated, chips are reproducible and distinct") {
  // PCM device noise alone (ideal DAC/ADC, continuous weights): programming sigma ~1 uS of 25 uS
  // plus read noise and 1 s of drift; Frobenius relative error bounds 1e-3 .. 0.3 (measured below).
  at::manual_seed(9);
  const at::Tensor x = randn({32, 128}), w = randn({64, 128}), b = randn({64});
  const char* pcm = "[device]\nmodel = \"pcm\"\n";
  auto a = make_layer(pcm), a2 = make_layer(pcm);
  const at::Tensor ref = at::linear(x, w, b);
  const at::Tensor y = op_linear(x, w, b, a);
  const double e = ((y - ref).norm() / ref.norm()).item<double>();
  INFO("pcm relative error " << e);
  CHECK(e > 1e-3);
  CHECK(e < 0.3);
  CHECK(torch::equal(op_linear(x, w, b, a2), y));  // same seed, chip and read index: same draw
  a2->reset();
  a2->set_chip(1);
  CHECK_FALSE(torch::equal(op_linear(x, w, b, a2), y));
}

TEST_CASE("drift_to: a normal device with a fixed exponent scales outputs by ((t + t0)/t0)^-nu") {
  // nu = 0.05 for every device, no noise, g_min = 0 (G- of a positive weight stays at 0): every
  // output (without bias) scales exactly; float32 engine: tolerance kIdealTol.
  at::manual_seed(10);
  const at::Tensor x = randn({4, 20}), w = randn({6, 20});
  auto st = make_layer("[device]\nmodel = \"normal\"\nnormal.drift_nu = 0.05\nnormal.t0_s = 20\n[run]\nt_inference_s = 0\n");
  const at::Tensor y0 = op_linear(x, w, c10::nullopt, st);
  CHECK(rel_err(y0, at::linear(x, w)) < kIdealTol);
  for (double t : {100.0, 1e4, 3.15e7}) {
    st->drift_to(t);
    const double f = std::pow((t + 20.0) / 20.0, -0.05);
    INFO("t = " << t);
    CHECK(rel_err(op_linear(x, w, c10::nullopt, st), y0 * f) < kIdealTol);
    CHECK(st->counters().at("t_inference_s") == t);
  }
  CHECK_THROWS_AS(st->drift_to(-1), c10::Error);
  // reset() returns to the configured inference time.
  st->reset();
  CHECK(rel_err(op_linear(x, w, c10::nullopt, st), y0) < kIdealTol);
}

TEST_CASE("reset and set_chip: reset replays the same chip and read stream, another chip differs") {
  at::manual_seed(11);
  const at::Tensor x = randn({8, 64}), w = randn({32, 64});
  auto st = make_layer(kPcmToml);
  const at::Tensor y1 = op_linear(x, w, c10::nullopt, st);
  const at::Tensor y2 = op_linear(x, w, c10::nullopt, st);
  CHECK_FALSE(torch::equal(y1, y2));  // fresh read noise on every read
  CHECK(st->counters().at("reads") == 2);
  st->reset();
  CHECK(st->counters().at("reads") == 0);
  CHECK(torch::equal(op_linear(x, w, c10::nullopt, st), y1));
  st->set_chip(3);
  const at::Tensor y3 = op_linear(x, w, c10::nullopt, st);
  CHECK_FALSE(torch::equal(y3, y1));
}

TEST_CASE("weights and bias changed in place are re-programmed before the next read") {
  // The layer programs lazily and re-programs when the weight or bias values changed. Ideal
  // config: outputs equal at::linear of the current tensors (kIdealTol).
  at::manual_seed(12);
  const at::Tensor x = randn({5, 12});
  at::Tensor w = randn({7, 12}), b = randn({7});
  auto st = make_layer(kIdealToml);
  CHECK(rel_err(op_linear(x, w, b, st), at::linear(x, w, b)) < kIdealTol);
  w.mul_(-2.0);  // an optimizer step on the weight
  CHECK(rel_err(op_linear(x, w, b, st), at::linear(x, w, b)) < kIdealTol);
  w = randn({7, 12});  // a new weight tensor
  CHECK(rel_err(op_linear(x, w, b, st), at::linear(x, w, b)) < kIdealTol);
  // An in-place update of the bias alone (e.g. bias-only fine-tuning) must be re-programmed.
  b.add_(10.0);
  const at::Tensor y = op_linear(x, w, b, st);
  INFO("rel error after an in-place bias update " << rel_err(y, at::linear(x, w, b)));
  CHECK(rel_err(y, at::linear(x, w, b)) < kIdealTol);
}

TEST_CASE("weights changed through .data (storage changes, version does not) are re-programmed") {
  // `p.data.clamp_(-1, 1)` / `p.data.copy_(w)` in Python (Tensor::data() in C++) is the usual way
  // to clip or load weights outside autograd: it writes the storage through an alias with its
  // own version counter. Data pointer and version are unchanged here, yet the layer must read
  // the new weights.
  at::manual_seed(17);
  const at::Tensor x = randn({5, 12});
  at::Tensor w = randn({7, 12});
  auto st = make_layer(kIdealToml);
  CHECK(rel_err(op_linear(x, w, c10::nullopt, st), at::linear(x, w)) < kIdealTol);
  const int64_t version = w._version();
  w.data().clamp_(-0.5, 0.5);  // weight clipping, as in noise-aware training
  CHECK(w._version() == version);
  const at::Tensor y = op_linear(x, w, c10::nullopt, st);
  INFO("rel error after clipping through .data " << rel_err(y, at::linear(x, w)));
  CHECK(rel_err(y, at::linear(x, w)) < kIdealTol);
}

TEST_CASE("an unchanged weight in a new tensor is not re-programmed; changed values are") {
  // Programming resets the engine's counters (engine/analog_layer.cpp), so `vectors` counts the
  // input vectors read since the last programming: 2 reads' worth when the chip was programmed once.
  // Re-programming the same weights would give the same chip (a function of seed, chip and weights),
  // so outputs equal a layer that sees the very same tensor every call.
  at::manual_seed(19);
  SUBCASE("a grouped conv whose weight requires grad: a new block-diagonal tensor every forward") {
    const at::Tensor x = randn({2, 8, 5, 5}), w = randn({8, 1, 3, 3});
    const at::Tensor wg = w.clone().requires_grad_(true);
    auto st = make_layer(kPcmToml, "conv"), ref = make_layer(kPcmToml, "conv");
    const int64_t rows = 2 * 5 * 5;  // N Ho Wo patches
    for (int call = 1; call <= 2; ++call) {
      const at::Tensor y = op_conv2d(x, wg, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, 8, st);
      const at::Tensor yr = op_conv2d(x, w, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, 8, ref);  // one cached tensor
      CHECK(at::equal(y.detach(), yr));
      CHECK(st->counter_values().vectors == call * rows);
    }
    {
      at::NoGradGuard ng;
      wg.mul_(-0.5);  // an optimizer step
    }
    const at::Tensor y3 = op_conv2d(x, wg, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, 8, st);
    CHECK(st->counter_values().vectors == rows);  // programmed again
    CHECK(st->counter_values().reads == 3);        // the read-noise stream continues
    auto ideal = make_layer(kIdealToml, "conv");
    CHECK(rel_err(op_conv2d(x, wg, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, 8, ideal), at::conv2d(x, wg.detach(), {}, 1, 1, 1, 8)) <
          kIdealTol);
  }
  SUBCASE("a module passing weight.clone() and bias.clone()") {
    const at::Tensor x = randn({4, 20}), w = randn({6, 20}), b = randn({6});
    auto st = make_layer(kPcmToml), ref = make_layer(kPcmToml);
    for (int call = 1; call <= 3; ++call) {
      CHECK(at::equal(op_linear(x, w.clone(), b.clone(), st), op_linear(x, w, b, ref)));
      CHECK(st->counter_values().vectors == call * 4);
    }
    op_linear(x, w.clone(), (b + 1.0).clone(), st);  // a changed bias alone
    CHECK(st->counter_values().vectors == 4);
    op_linear(x, w.to(at::kDouble), (b + 1.0).to(at::kDouble), st);  // another dtype is compared as a change
    CHECK(st->counter_values().vectors == 4);
  }
}

TEST_CASE("counters: tiles, arrays, occupancy, reads and ADC conversions of a 300 x 40 layer") {
  // 300 inputs on 256-row tiles: 2 row tiles x 1 column tile; differential pairs: 2 arrays per
  // tile. An 8-bit ADC (one input slice, one weight slice) converts every column of every tile
  // once per input vector: 2 x 5 x 40 conversions per read of 5 vectors.
  at::manual_seed(13);
  const at::Tensor x = randn({5, 300}), w = randn({40, 300});
  auto st = make_layer("[adc]\nbits = 8\n");
  CHECK(st->counters().at("reads") == 0);
  op_linear(x, w, c10::nullopt, st);
  auto c = st->counters();
  CHECK(c.at("tiles") == 2);
  CHECK(c.at("arrays") == 4);
  CHECK(c.at("occupancy") == doctest::Approx(300.0 * 40 / (2 * 256.0 * 256)));
  CHECK(c.at("reads") == 1);
  CHECK(c.at("conversions") == 400);
  op_linear(x, w, c10::nullopt, st);
  c = st->counters();
  CHECK(c.at("reads") == 2);
  CHECK(c.at("conversions") == 800);
}

TEST_CASE("count_events(false): the same outputs, no cost events counted (the overhead benchmark's baseline)") {
  // Two layers of the same config and chip, one counting and one not: reads must be bit-identical
  // (counting only observes), and the silent one must count none of the read events the cost
  // model prices (MACs, pulses, V^2 G, column outputs) while the counting one has 5 x 300 x 40 MACs.
  at::manual_seed(15);
  const at::Tensor x = randn({5, 300}), w = randn({40, 300});
  const std::string cfg = "[adc]\nbits = 8\n[device]\nmodel = \"pcm\"\n";
  auto on = make_layer(cfg), off = make_layer(cfg);
  off->count_events(false);
  const at::Tensor y_on = op_linear(x, w, c10::nullopt, on), y_off = op_linear(x, w, c10::nullopt, off);
  CHECK(at::equal(y_on, y_off));
  const LayerCounters c_on = on->counter_values(), c_off = off->counter_values();
  CHECK(c_on.analog_macs == 5 * 300 * 40);
  CHECK(c_on.column_outputs > 0);
  CHECK(c_off.analog_macs == 0);
  CHECK(c_off.input_pulses == 0);
  CHECK(c_off.column_outputs == 0);
  CHECK(c_off.array_v2g_uS == 0);
}

TEST_CASE("activation products: every (batch, head) slice is written to an array, counters accumulate") {
  // a 2x3x6x8 @ b 2x3x8x5: 6 slices, each 8 inputs x 5 outputs, one 8-bit ADC conversion per
  // output column per row of a: 6 x 6 x 5 = 180 conversions per call.
  at::manual_seed(14);
  auto st = make_layer("[adc]\nbits = 8\n", "attn_qk");
  const at::Tensor a = randn({2, 3, 6, 8}), b = randn({2, 3, 8, 5});
  op_matmul(a, b, st);
  CHECK(st->counters().at("conversions") == 180);
  op_matmul(a, b, st);
  CHECK(st->counters().at("conversions") == 360);
  st->reset();
  CHECK(st->counters().at("conversions") == 0);
}

TEST_CASE("digital mode: float, or integer-quantized products equal an independent quantizer") {
  // Reference: symmetric per-tensor quantization to 2^(bits-1) - 1 levels, computed in double by
  // quantize_ref. xbar computes the quantized product in float32: tolerance kIdealTol. The
  // quantization error itself is far larger (>1e-2 at 4 bits), so a missing quantizer fails.
  at::manual_seed(15);
  const at::Tensor x = randn({6, 24}), w = randn({10, 24}), b = randn({10});
  const at::Tensor y_float = op_linear(x, w, b, make_layer(kIdealToml, "linear", "digital", 0));
  CHECK(torch::equal(y_float, at::linear(x, w, b)));  // digital float: exactly ATen
  for (int bits : {4, 8}) {
    INFO("bits " << bits);
    const at::Tensor y = op_linear(x, w, b, make_layer(kIdealToml, "linear", "digital", bits));
    const at::Tensor ref = at::linear(quantize_ref(x, bits), quantize_ref(w, bits), b.to(at::kDouble));
    CHECK(rel_err(y, ref) < kIdealTol);
    CHECK(rel_err(y, at::linear(x, w, b)) > (bits == 4 ? 1e-2 : 1e-4));
  }
  // Activation products: per-tensor quantization of each operand (over batch and heads).
  const at::Tensor a = randn({2, 3, 5, 8}), bb = randn({2, 3, 8, 4});
  const at::Tensor ym = op_matmul(a, bb, make_layer(kIdealToml, "attn_qk", "digital", 6));
  CHECK(rel_err(ym, at::matmul(quantize_ref(a, 6), quantize_ref(bb, 6))) < kIdealTol);
  CHECK(rel_err(ym, at::matmul(a, bb)) > 1e-3);
  CHECK(torch::equal(op_matmul(a, bb, make_layer(kIdealToml, "attn_qk", "digital", 0)), at::matmul(a, bb)));
}

TEST_CASE("pickling: a module holding a Layer attribute saves and loads, the next read is identical") {
  at::manual_seed(16);
  const at::Tensor x = randn({4, 96}), w = randn({24, 96}), b = randn({24});
  SUBCASE("ideal") {
    auto st = make_layer(kIdealToml, "linear", "analog", 0, "fc1");
    torch::jit::Module m = linear_module(w, b, st);
    const at::Tensor y = m.forward({x}).toTensor();
    CHECK(rel_err(y, at::linear(x, w, b)) < kIdealTol);
    const std::string path = tmp_path("ideal");
    m.save(path);
    torch::jit::Module l = torch::jit::load(path);
    std::remove(path.c_str());
    CHECK(torch::equal(l.forward({x}).toTensor(), y));
    auto ls = l.attr("state").toCustomClass<XbarLayer>();
    CHECK(ls->name() == "fc1");
    CHECK(ls->op_class() == OpClass::linear);
    CHECK(ls->mode() == OpMode::analog);
    XbarConfig ideal;
    ideal.device.model = DeviceKind::ideal;
    CHECK(same_config(ls->config(), ideal));
    CHECK(ls->config_toml() == to_toml(ideal));
  }
  SUBCASE("pcm, drifted: the loaded chip continues the read-noise stream") {
    auto st = make_layer(kPcmToml, "linear", "analog", 0, "fc1");
    st->set_chip(5);
    st->drift_to(3600);
    torch::jit::Module m = linear_module(w, b, st);
    const at::Tensor y1 = m.forward({x}).toTensor();
    const std::string path = tmp_path("pcm");
    m.save(path);
    const at::Tensor y2 = m.forward({x}).toTensor();
    CHECK_FALSE(torch::equal(y1, y2));  // read noise is fresh on every read
    torch::jit::Module l = torch::jit::load(path);
    std::remove(path.c_str());
    CHECK(torch::equal(l.forward({x}).toTensor(), y2));
    auto ls = l.attr("state").toCustomClass<XbarLayer>();
    CHECK(ls->time_s() == 3600.0);
    CHECK(ls->counters().at("chip") == 5);
    CHECK(ls->counters().at("reads") == 2);
    // The loaded state is a working Layer: reset replays from the first read of chip 5.
    ls->reset();
    ls->drift_to(3600);
    CHECK(torch::equal(l.forward({x}).toTensor(), y1));
  }
  SUBCASE("calibrated ADC range: the loaded model reproduces the next read") {
    // The original calibrated on x; the loaded model must keep those ranges (it reads x2 outside
    // calibration mode) to read like the same chip.
    auto st = make_layer("[adc]\nbits = 6\nrange = \"calibrated\"\n", "linear", "analog", 0, "fc1");
    torch::jit::Module m = linear_module(w, b, st);
    {
      CalibrationMode cm(m);
      m.forward({x});
    }
    const std::string path = tmp_path("calibrated");
    m.save(path);
    const at::Tensor x2 = 3 * randn({4, 96});
    const at::Tensor y2 = m.forward({x2}).toTensor();
    torch::jit::Module l = torch::jit::load(path);
    std::remove(path.c_str());
    const at::Tensor y2l = l.forward({x2}).toTensor();
    INFO("max |difference| " << (y2l - y2).abs().max().item<double>());
    CHECK(torch::equal(y2l, y2));
  }
  SUBCASE("a v1 state with the config as written by hand (some sections) loads; it is saved as v2 with every key") {
    // Field by field what xbar-layer-v1 pickles hold: name, op class, mode, digital bits, config
    // TOML, chip, time, reads, calls, sequences, calibrated ADC steps.
    const std::vector<std::string> v1 = {"xbar-layer-v1", "blocks.0.fc1", "conv", "digital", "6",
                                         "[adc]\nbits = 5\n[run]\nseed = 9\n", "3", "7200", "11", "2", "1", "0.5,0.25"};
    auto ls = XbarLayer::from_state(v1);
    CHECK(ls->name() == "blocks.0.fc1");
    CHECK(ls->op_class() == OpClass::conv);
    CHECK(ls->mode() == OpMode::digital);
    CHECK(ls->digital_bits() == 6);
    XbarConfig want;
    want.adc.bits = 5;
    want.run.seed = 9;
    CHECK(same_config(ls->config(), want));
    std::vector<std::string> expect = v1;  // saved as v2: every key, and no calibration source
    expect[0] = "xbar-layer-v2";
    expect[5] = to_toml(want);
    expect.push_back("");
    CHECK(ls->state() == expect);
    CHECK(XbarLayer::from_state(ls->state())->state() == expect);
    std::vector<std::string> bad = v1;
    bad[2] = "dense";
    CHECK(c10_error_message([&] { XbarLayer::from_state(bad); }).find("attn_av") != std::string::npos);
  }
  SUBCASE("a state saved by another version is refused with a message") {
    CHECK_THROWS_AS(XbarLayer::from_state({"xbar-layer-v0", "a"}), c10::Error);
  }
}
