// convert_module on TorchScript modules built in C++ (torch::jit::Module + define()): outputs
// against the unconverted module (the independent float reference), the report, save/load,
// policy overrides by glob / op class / phase, warnings and policy errors, lifecycle helpers.
#include "tests/torch/torch_doctest.h"

#include <cstdio>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <unistd.h>

#include "torch/calibrate.h"
#include "torch/convert.h"

using namespace xbar;
using namespace xbar::test;

namespace {

// Ideal conversion: every stage exact, engine in float32. A network of a few layers compounds a
// few float32 roundings per layer: 1e-5 of the largest output (the issue's bound) is ~10-50x
// above what is measured and far below any real error.
constexpr double kModelTol = 1e-5;

const char* kIdealPolicy = R"(
[policy]
mode = "analog"
[device]
model = "ideal"
[dac]
bits = 0
[adc]
bits = 0
[mapping]
weight_bits = 0
)";

std::string tmp_path(const std::string& stem) {
  return "/tmp/xbar_test_convert_" + std::to_string(::getpid()) + "_" + stem + ".pt";
}

at::Tensor randn(at::IntArrayRef s) { return at::randn(s); }

torch::jit::Module linear_mod(int64_t in, int64_t out) {
  torch::jit::Module m("Linear");
  m.register_parameter("weight", randn({out, in}) / std::sqrt(double(in)), false);
  m.register_parameter("bias", randn({out}) * 0.1, false);
  m.define(R"(
def forward(self, x):
    return torch.linear(x, self.weight, self.bias)
)");
  return m;
}

// cin: input channels per group.
torch::jit::Module conv_mod(int64_t cin, int64_t cout, int64_t k, const std::string& args) {
  torch::jit::Module m("Conv");
  m.register_parameter("weight", randn({cout, cin, k, k}) / std::sqrt(double(cin * k * k)), false);
  m.register_parameter("bias", randn({cout}) * 0.1, false);
  m.define("def forward(self, x):\n    return torch.conv2d(x, self.weight, self.bias, " + args + ")\n");
  return m;
}

torch::jit::Module mlp() {
  torch::jit::Module m("MLP");
  m.register_module("fc1", linear_mod(20, 64));
  m.register_module("fc2", linear_mod(64, 32));
  m.register_module("fc3", linear_mod(32, 10));
  m.define(R"(
def forward(self, x):
    h = torch.relu(self.fc1.forward(x))
    h = torch.relu(self.fc2.forward(h))
    return self.fc3.forward(h)
)");
  return m;
}

// flat: how the classifier flattens the last feature map (an expression in h).
torch::jit::Module cnn_flattened_by(const std::string& flat) {
  torch::jit::Module m("CNN");
  m.register_module("conv1", conv_mod(1, 4, 3, "[1, 1], [1, 1], [1, 1], 1"));
  m.register_module("conv2", conv_mod(4, 8, 3, "[2, 2], [0, 0], [1, 1], 1"));
  m.register_module("fc", linear_mod(8 * 3 * 3, 10));
  m.define(R"(
def forward(self, x):
    h = torch.relu(self.conv1.forward(x))
    h = torch.relu(self.conv2.forward(h))
    return self.fc.forward()" + flat + ")\n");
  return m;
}
torch::jit::Module cnn() { return cnn_flattened_by("torch.flatten(h, 1)"); }

// Multi-head attention with explicit products: scores = q @ k^T (attn_qk), softmax, p @ v (attn_av).
torch::jit::Module attention_block() {
  torch::jit::Module a("Attention");
  for (const char* n : {"q", "k", "v", "o"}) a.register_module(n, linear_mod(16, 16));
  a.define(R"(
def forward(self, x):
    B = x.size(0)
    T = x.size(1)
    q = self.q.forward(x).view(B, T, 2, 8).transpose(1, 2)
    k = self.k.forward(x).view(B, T, 2, 8).transpose(1, 2)
    v = self.v.forward(x).view(B, T, 2, 8).transpose(1, 2)
    s = torch.matmul(q, k.transpose(-2, -1)) / 2.8284271247461903
    p = torch.softmax(s, -1)
    c = torch.matmul(p, v).transpose(1, 2).reshape(B, T, 16)
    return self.o.forward(c)
)");
  torch::jit::Module m("Block");
  m.register_module("attn", a);
  m.register_module("lm_head", linear_mod(16, 12));
  m.define(R"(
def forward(self, x):
    return self.lm_head.forward(x + self.attn.forward(x))
)");
  return m;
}

// A grouped conv, products with a parameter as traced models write them (x @ W, addmm with
// W.t(), rows sliced from a packed weight) and one that cannot map (W @ x, the parameter on the
// left: its output is transposed to the array's).
torch::jit::Module mixed() {
  torch::jit::Module m("Mixed");
  m.register_module("gconv", conv_mod(1, 4, 3, "[1, 1], [1, 1], [1, 1], 2"));  // 2 groups of 1 input channel
  m.register_parameter("proj", randn({6, 5}), false);
  m.register_parameter("packed_weight", randn({10, 5}), false);
  m.register_parameter("left", randn({4, 4}), false);
  m.register_module("fc", linear_mod(5, 3));
  m.define(R"(
def forward(self, x):
    h = self.gconv.forward(x)
    h = torch.matmul(h, self.proj)
    a, b = self.packed_weight.chunk(2)
    h = torch.linear(h, a) + torch.linear(h, self.packed_weight[5:10])
    h = torch.matmul(self.left, h)
    h = torch.addmm(self.fc.bias, h.reshape(-1, 5), self.fc.weight.t())
    return h
)");
  return m;
}

const ConvertedOp* find_op(const ConvertReport& r, const std::string& name, const std::string& method = "forward") {
  for (const auto& o : r.ops)
    if (o.name == name && o.method == method) return &o;
  return nullptr;
}

c10::intrusive_ptr<XbarLayer> layer(const torch::jit::Module& m, const std::string& name, const std::string& op_class) {
  for (const auto& l : xbar_layers(m))
    if (l->name() == name && enum_string(l->op_class()) == op_class) return l;
  return {};
}

XbarConfig config_of(const c10::intrusive_ptr<XbarLayer>& l) { return l->config(); }

at::Tensor run(torch::jit::Module& m, const at::Tensor& x) { return m.forward({x}).toTensor(); }

using Factory = std::function<torch::jit::Module()>;

// Two identical modules (same seed): the float reference, and one to convert that has never run
// (converting a module that already ran is its own test, below).
std::pair<torch::jit::Module, torch::jit::Module> twins(const Factory& make, uint64_t seed) {
  at::manual_seed(seed);
  torch::jit::Module ref = make();
  at::manual_seed(seed);
  torch::jit::Module m = make();
  return {ref, m};
}

// Converts a fresh module with `policy_text`, checks its output against the float twin and a
// save/load round trip, and returns the report (and the converted module in *out).
ConvertReport convert_and_compare(const Factory& make, uint64_t seed, const at::Tensor& x, const std::string& stem,
                                  torch::jit::Module* out = nullptr, const std::string& policy_text = kIdealPolicy) {
  auto [ref_m, m] = twins(make, seed);
  const at::Tensor ref = run(ref_m, x);
  const ConvertReport rep = convert_module(m, parse_policy(policy_text, stem + ".toml"));
  const at::Tensor y = run(m, x);
  INFO(stem << ": relative error " << rel_err(y, ref) << "\n" << rep.table());
  CHECK(rel_err(y, ref) < kModelTol);
  const std::string path = tmp_path(stem);
  m.save(path);
  torch::jit::Module l = torch::jit::load(path);
  std::remove(path.c_str());
  CHECK(torch::equal(run(l, x), y));  // ideal: reads are deterministic, the reload is bit-identical
  if (out) *out = m;
  return rep;
}

}  // namespace

TEST_CASE("MLP: ideal conversion reproduces the float model, report names fc1..fc3, save/load") {
  torch::jit::Module m;
  const ConvertReport rep = convert_and_compare(mlp, 1, randn({8, 20}), "mlp", &m);
  REQUIRE(rep.ops.size() == 3);
  for (const char* n : {"fc1", "fc2", "fc3"}) {
    INFO(n);
    const ConvertedOp* o = find_op(rep, n);
    REQUIRE(o);
    CHECK(o->converted);
    CHECK(o->kind == "aten::linear");
    CHECK(o->op_class == OpClass::linear);
    CHECK(o->mode == OpMode::analog);
    CHECK(o->reason.empty());
    CHECK(m.hasattr(std::string("_xbar_") + n));
  }
  CHECK(rep.warnings.empty());
  CHECK(xbar_layers(m).size() == 3);
  CHECK(rep.table().find("3 analog, 0 digital-emulated, 0 left in float") != std::string::npos);
  // The graph no longer contains aten::linear.
  std::ostringstream g;
  g << *m.get_method("forward").graph();
  CHECK(g.str().find("aten::linear") == std::string::npos);
  CHECK(g.str().find("xbar::linear") != std::string::npos);
}

TEST_CASE("CNN: conv layers convert (stride, padding) and reproduce the float model") {
  const ConvertReport rep = convert_and_compare(cnn, 2, randn({3, 1, 8, 8}), "cnn");
  REQUIRE(rep.ops.size() == 3);
  CHECK(find_op(rep, "conv1")->op_class == OpClass::conv);
  CHECK(find_op(rep, "conv2")->op_class == OpClass::conv);
  CHECK(find_op(rep, "fc")->op_class == OpClass::linear);
  for (const auto& o : rep.ops) CHECK(o.converted);
}

TEST_CASE("a model that .view()s a converted convolution's output runs and reproduces the float model") {
  // ATen's convolution returns a contiguous tensor, so models flatten with .view(); the converted
  // convolution must too (a strided output fails there: "view size is not compatible").
  const ConvertReport rep = convert_and_compare([] { return cnn_flattened_by("h.view(h.size(0), -1)"); }, 2,
                                                randn({3, 1, 8, 8}), "cnn_view");
  CHECK(find_op(rep, "conv2")->converted);
}

TEST_CASE("traced-style aten::_convolution converts, a transposed one stays float") {
  auto make = [] {
    torch::jit::Module m("Traced");
    m.register_module("conv", conv_mod(3, 5, 3, "[1, 1], [1, 1], [1, 1], 1"));
    m.register_parameter("tw", randn({5, 2, 3, 3}), false);
    m.define(R"(
def forward(self, x):
    h = torch._convolution(x, self.conv.weight, self.conv.bias, [2, 1], [1, 0], [1, 2], False, [0, 0], 1, False, False, True, True)
    return torch._convolution(h, self.tw, None, [1, 1], [0, 0], [1, 1], True, [0, 0], 1, False, False, True, True)
)");
    return m;
  };
  const ConvertReport rep = convert_and_compare(make, 3, randn({2, 3, 9, 9}), "traced_conv");
  const ConvertedOp* c = find_op(rep, "conv");
  REQUIRE(c);
  CHECK(c->converted);
  CHECK(c->kind == "aten::_convolution");
  bool transposed_left = false;
  for (const auto& o : rep.ops)
    if (!o.converted && o.reason == "transposed convolution") transposed_left = true;
  CHECK(transposed_left);
}

TEST_CASE("attention block: q/k/v/o, scores and context products and lm_head convert, ideal equals float") {
  const ConvertReport rep = convert_and_compare(attention_block, 4, randn({2, 5, 16}), "attention");
  for (const char* n : {"attn.q", "attn.k", "attn.v", "attn.o"}) {
    INFO(n);
    REQUIRE(find_op(rep, n));
    CHECK(find_op(rep, n)->op_class == OpClass::linear);
  }
  const ConvertedOp* s = find_op(rep, "attn.scores");
  const ConvertedOp* c = find_op(rep, "attn.context");
  const ConvertedOp* h = find_op(rep, "lm_head");
  REQUIRE(s);
  REQUIRE(c);
  REQUIRE(h);
  CHECK(s->op_class == OpClass::attn_qk);
  CHECK(s->kind == "aten::matmul");
  CHECK(c->op_class == OpClass::attn_av);
  CHECK(h->op_class == OpClass::lm_head);
  CHECK(s->converted);
  CHECK(c->converted);
  CHECK(rep.ops.size() == 7);
}

TEST_CASE("bmm between activations converts as an attention product") {
  auto make = [] {
    torch::jit::Module m("Bmm");
    m.define(R"(
def forward(self, x):
    s = torch.bmm(x, x.transpose(1, 2))
    return torch.bmm(torch.softmax(s, -1), x)
)");
    return m;
  };
  const ConvertReport rep = convert_and_compare(make, 5, randn({3, 4, 6}), "bmm");
  REQUIRE(rep.ops.size() == 2);
  CHECK(find_op(rep, "scores")->op_class == OpClass::attn_qk);
  CHECK(find_op(rep, "context")->op_class == OpClass::attn_av);
}

TEST_CASE("attention products are named by module path, also when computed in a helper method") {
  // A product computed in a method that forward (or decode) calls on the same module must not
  // carry the call frame's instance name "SELF" ("attn.SELF.scores"): the name is the module path
  // ("scores" at the root, "attn.scores" inside attn), as when the products are written inline,
  // so policy globs match it whatever method computes it.
  auto make = [] {
    torch::jit::Module a("Attend");
    a.define(R"(
def attend(self, x):
    s = torch.matmul(x, x.transpose(-2, -1))
    return torch.matmul(torch.softmax(s, -1), x)

def forward(self, x):
    return self.attend(x)
)");
    torch::jit::Module m("Root");
    m.register_module("attn", a);
    m.define(R"(
def attend(self, x):
    s = torch.matmul(x, x.transpose(-2, -1))
    return torch.matmul(torch.softmax(s, -1), x)

def forward(self, x):
    return self.attend(x) + self.attn.forward(x)
)");
    return m;
  };
  const ConvertReport rep = convert_and_compare(make, 22, randn({2, 3, 4}), "helper");
  std::set<std::string> names;
  for (const auto& o : rep.ops)
    if (o.method == "forward") names.insert(o.name);
  INFO(rep.table());
  CHECK(names == std::set<std::string>{"scores", "context", "attn.scores", "attn.context"});
}

TEST_CASE("decode rules apply to helper methods the decode method calls, whatever the method order") {
  // A helper (here `step`, defined before `decode_step`) must be converted inside decode_step
  // with the decode phase, not inlined there already rewritten as prefill: decode rules (digital
  // float here, so decode_step equals ATen exactly) apply to everything decode_step computes.
  auto make = [] {
    torch::jit::Module m = mlp();
    m.define(R"(
def step(self, x):
    return self.fc1.forward(x)

def decode_step(self, x):
    return self.step(x)
)");
    return m;
  };
  auto [ref_m, m] = twins(make, 23);
  // prefill: analog with a 6-bit ADC (visibly different from float), decode: digital float.
  const std::string policy = "[adc]\nbits = 6\n[[override]]\nphase = \"decode\"\nmode = \"digital\"\n";
  const ConvertReport rep = convert_module(m, parse_policy(policy, "decode.toml"));
  INFO(rep.table());
  const ConvertedOp* dec = find_op(rep, "fc1", "decode_step");
  CHECK(dec != nullptr);
  if (dec) CHECK(dec->mode == OpMode::digital);
  CHECK(rep.warnings.empty());
  const at::Tensor x = randn({3, 20});
  CHECK(torch::equal(m.get_method("decode_step")({x}).toTensor(), ref_m.get_method("decode_step")({x}).toTensor()));
}

TEST_CASE("grouped conv, products with a parameter and sliced weights convert; W @ x stays float with its reason") {
  const ConvertReport rep = convert_and_compare(mixed, 6, randn({2, 2, 4, 6}), "mixed");
  INFO(rep.table());
  const ConvertedOp* g = find_op(rep, "gconv");
  REQUIRE(g);
  CHECK(g->converted);
  CHECK(g->op_class == OpClass::conv);
  for (const char* name : {"proj", "packed.rows0_5", "packed.rows5_10", "fc"}) {
    const ConvertedOp* o = find_op(rep, name);
    INFO(name);
    REQUIRE(o);
    CHECK(o->converted);
    CHECK(o->op_class == OpClass::linear);
  }
  bool left = false;
  for (const auto& o : rep.ops)
    if (!o.converted) left = o.kind == "aten::matmul" && o.reason.find("on the left") != std::string::npos;
  CHECK(left);
  CHECK(rep.table().find("5 analog, 0 digital-emulated, 1 left in float") != std::string::npos);
}

TEST_CASE("a matmul with a 1-D activation operand converts to something that runs, or stays float") {
  // A vector product (h @ v with v 1-D) converts to xbar::matmul, which must treat 1-D operands
  // as torch.matmul does.
  auto [ref_m, m] = twins(
      [] {
        torch::jit::Module m("VecProduct");
        m.register_module("fc", linear_mod(4, 6));
        m.define(R"(
def forward(self, x):
    h = self.fc.forward(x)
    v = h.sum(0)
    return torch.matmul(h, v)
)");
        return m;
      },
      7);
  const at::Tensor x = randn({3, 4}), ref = run(ref_m, x);
  convert_module(m, parse_policy(kIdealPolicy, "ideal.toml"));
  at::Tensor y;
  CHECK_NOTHROW(y = run(m, x));
  if (y.defined()) CHECK(rel_err(y, ref) < kModelTol);
}

TEST_CASE("conv2d with padding = \"same\" (the string overload) converts correctly or stays float") {
  // aten::conv2d.padding takes `str padding`, which xbar::conv2d's int[2] padding cannot take:
  // such a conv must run correctly (here: stays float, with a reason).
  auto [ref_m, m] = twins(
      [] {
        torch::jit::Module m("Same");
        m.register_module("conv", conv_mod(2, 3, 3, "[1, 1], \"same\", [1, 1], 1"));
        m.define("def forward(self, x):\n    return self.conv.forward(x)\n");
        return m;
      },
      8);
  const at::Tensor x = randn({1, 2, 6, 6}), ref = run(ref_m, x);
  ConvertReport rep;
  CHECK_NOTHROW(rep = convert_module(m, parse_policy(kIdealPolicy, "ideal.toml")));
  at::Tensor y;
  CHECK_NOTHROW(y = run(m, x));
  if (y.defined()) CHECK(rel_err(y, ref) < kModelTol);
}

TEST_CASE("converting a module that has already run takes effect in the same process") {
  // A method that has already run keeps its GraphExecutor's cached plan (compiled from the old
  // graph); the converted module must nevertheless run the xbar ops in this process. Here an
  // 8-bit ADC policy must change the output and count conversions.
  at::manual_seed(21);
  torch::jit::Module m = mlp();
  const at::Tensor x = randn({4, 20});
  const at::Tensor ref = run(m, x);  // the method runs once before conversion
  convert_module(m, parse_policy(std::string(kIdealPolicy) + "[[override]]\n[override.adc]\nbits = 6\n", "adc6.toml"));
  const at::Tensor y = run(m, x);
  INFO("relative change after conversion " << rel_err(y, ref));
  CHECK(rel_err(y, ref) > 1e-4);
  CHECK(layer(m, "fc1", "linear")->counters().at("conversions") == 4 * 64);
}

TEST_CASE("policy overrides by glob, op class and phase reach the layer states") {
  at::manual_seed(9);
  SUBCASE("glob: 8-bit ADC for fc2 only (config and counters)") {
    auto [ref_m, m] = twins(mlp, 9);
    const std::string policy = std::string(kIdealPolicy) + R"(
[[override]]
match = "fc2"
[override.adc]
bits = 8
)";
    const at::Tensor x = randn({4, 20});
    const at::Tensor ref = run(ref_m, x);
    const ConvertReport rep = convert_module(m, parse_policy(policy, "glob.toml"));
    CHECK(rep.warnings.empty());
    const at::Tensor y = run(m, x);
    const double e = rel_err(y, ref);
    INFO("relative error with an 8-bit ADC on fc2 " << e);
    // An 8-bit ADC over the worst-case range of 64 rows has an LSB of 64/127 of one full-scale
    // product: ~20% error on fc2's outputs (an independent round-to-LSB calculation gives 0.21 max
    // / 0.26 Frobenius); measured 0.23. Bounds: visible (> 1e-5) and still correlated (< 0.5).
    CHECK(e > 1e-5);
    CHECK(e < 0.5);
    CHECK(config_of(layer(m, "fc2", "linear")).adc.bits == 8);
    CHECK(config_of(layer(m, "fc1", "linear")).adc.bits == 0);
    CHECK(config_of(layer(m, "fc3", "linear")).adc.bits == 0);
    // Only the 8-bit ADC converts: 4 inputs x 32 outputs.
    CHECK(layer(m, "fc2", "linear")->counters().at("conversions") == 4 * 32);
    CHECK(layer(m, "fc1", "linear")->counters().at("conversions") == 0);
  }
  SUBCASE("op class: conv layers on a 4-bit ADC, linear untouched; glob fc* matches fc only") {
    torch::jit::Module m = cnn();
    const std::string policy = std::string(kIdealPolicy) + R"(
[[override]]
op = "conv"
[override.adc]
bits = 4
[[override]]
match = "fc*"
[override.mapping]
tile_rows = 32
)";
    const ConvertReport rep = convert_module(m, parse_policy(policy, "op.toml"));
    CHECK(rep.warnings.empty());
    CHECK(config_of(layer(m, "conv1", "conv")).adc.bits == 4);
    CHECK(config_of(layer(m, "conv2", "conv")).adc.bits == 4);
    CHECK(config_of(layer(m, "fc", "linear")).adc.bits == 0);
    CHECK(config_of(layer(m, "fc", "linear")).mapping.tile_rows == 32);
    CHECK(config_of(layer(m, "conv1", "conv")).mapping.tile_rows == 256);
    run(m, randn({1, 1, 8, 8}));
    CHECK(layer(m, "fc", "linear")->counters().at("tiles") == 3);  // 72 inputs on 32-row tiles
  }
  SUBCASE("op class lm_head and attention products; later rules win") {
    torch::jit::Module m = attention_block();
    const std::string policy = std::string(kIdealPolicy) + R"(
[[override]]
op = "linear"
[override.adc]
bits = 6
[[override]]
op = "lm_head"
[override.adc]
bits = 10
[[override]]
match = "attn.*"
op = "attn_qk"
mode = "digital"
digital_bits = 8
)";
    const ConvertReport rep = convert_module(m, parse_policy(policy, "heads.toml"));
    CHECK(rep.warnings.empty());
    CHECK(config_of(layer(m, "attn.q", "linear")).adc.bits == 6);
    CHECK(config_of(layer(m, "lm_head", "lm_head")).adc.bits == 10);  // op = linear matched it first
    CHECK(layer(m, "attn.scores", "attn_qk")->mode() == OpMode::digital);
    CHECK(layer(m, "attn.scores", "attn_qk")->digital_bits() == 8);
    CHECK(layer(m, "attn.context", "attn_av")->mode() == OpMode::analog);
    CHECK(find_op(rep, "attn.scores")->mode == OpMode::digital);
    CHECK(rep.table().find("6 analog, 1 digital-emulated, 0 left in float") != std::string::npos);
  }
  SUBCASE("phase: a decode method gets the decode rules, forward the prefill rules") {
    auto [ref_m, m] = twins(
        [] {
          torch::jit::Module m = mlp();
          m.define(R"(
def decode_step(self, x):
    return self.fc1.forward(x)
)");
          return m;
        },
        19);
    const std::string policy = std::string(kIdealPolicy) + R"(
[[override]]
phase = "decode"
mode = "digital"
[[override]]
phase = "prefill"
match = "fc1"
[override.dac]
bits = 8
)";
    const at::Tensor x = randn({2, 20});
    const at::Tensor ref = ref_m.get_method("decode_step")({x}).toTensor();
    const ConvertReport rep = convert_module(m, parse_policy(policy, "phase.toml"));
    CHECK(rep.warnings.empty());
    const ConvertedOp* fwd = find_op(rep, "fc1", "forward");
    const ConvertedOp* dec = find_op(rep, "fc1", "decode_step");
    REQUIRE(fwd);
    REQUIRE(dec);
    CHECK(fwd->mode == OpMode::analog);
    CHECK(dec->mode == OpMode::digital);
    // Two distinct states for fc1: analog with an 8-bit DAC (forward), digital float (decode).
    int n = 0;
    for (const auto& l : xbar_layers(m))
      if (l->name() == "fc1") {
        ++n;
        CHECK(config_of(l).dac.bits == (l->mode() == OpMode::analog ? 8 : 0));
      }
    CHECK(n == 2);
    CHECK(torch::equal(m.get_method("decode_step")({x}).toTensor(), ref));  // digital float = ATen
  }
}

TEST_CASE("a policy rule that matches no operator produces a warning naming it") {
  torch::jit::Module m = mlp();
  const std::string policy = std::string(kIdealPolicy) + R"(
[[override]]
match = "fc1"
[override.adc]
bits = 8
[[override]]
match = "encoder.*"
[override.adc]
bits = 4
[[override]]
op = "conv"
mode = "digital"
)";
  const ConvertReport rep = convert_module(m, parse_policy(policy, "unused.toml"));
  REQUIRE(rep.warnings.size() == 2);
  CHECK(rep.warnings[0].find("override[1]") != std::string::npos);
  CHECK(rep.warnings[0].find("encoder.*") != std::string::npos);
  CHECK(rep.warnings[0].find("unused.toml") != std::string::npos);
  CHECK(rep.warnings[1].find("override[2]") != std::string::npos);
  CHECK(rep.table().find("warning: unused.toml: override[1]") != std::string::npos);
}

TEST_CASE("bad policy values throw ConfigError naming the key") {
  auto field_of = [](const std::string& text) -> std::string {
    try {
      parse_policy(text, "bad.toml");
    } catch (const ConfigError& e) {
      return e.field();
    }
    return "<no ConfigError>";
  };
  CHECK(field_of("[policy]\nmdoe = \"analog\"\n") == "policy.mdoe");
  CHECK(field_of("[[override]]\nop = \"lienar\"\n") == "override[0].op");
  CHECK(field_of("[adc]\nbits = -1\n") == "adc.bits");
  CHECK(field_of("[[override]]\nmatch = \"fc2\"\n[override.adc]\nbits = -1\n") == "adc.bits");
  CHECK(field_of("[adc]\nbitz = 4\n") == "adc.bitz");
}

TEST_CASE("shipped policies load, default.toml converts to a noisy but correlated model") {
  // default: PCM, 8-bit DAC/ADC/weights; measured relative error of the MLP output ~1-5%.
  const std::string dir = std::string(XBAR_SOURCE_DIR) + "/data/policies/";
  auto [ref_m, ideal] = twins(mlp, 10);
  torch::jit::Module noisy = twins(mlp, 10).second;
  const at::Tensor x = randn({16, 20}), ref = run(ref_m, x);
  convert_module(ideal, load_policy(dir + "ideal.toml"));
  CHECK(rel_err(run(ideal, x), ref) < kModelTol);
  const ConvertReport rep = convert_module(noisy, load_policy(dir + "default.toml"));
  // default.toml's lm_head rule matches nothing in an MLP without a head.
  CHECK(rep.warnings.size() == 1);
  calibrate_module(noisy, randn({64, 20}), "random calibration inputs");  // calibrated ADC ranges
  const at::Tensor y = run(noisy, x);
  const double e = ((y - ref).norm() / ref.norm()).item<double>();
  INFO("default policy relative error " << e);
  CHECK(e > 1e-3);
  CHECK(e < 0.5);
  CHECK(layer(noisy, "fc1", "linear")->counters().at("conversions") > 0);
  CHECK_THROWS_AS(load_policy(dir + "no_such_policy.toml"), FileError);
}

TEST_CASE("lifecycle on a converted model: program_chip, drift_model, reset_model") {
  at::manual_seed(11);
  torch::jit::Module m = mlp();
  const std::string dir = std::string(XBAR_SOURCE_DIR) + "/data/policies/";
  convert_module(m, load_policy(dir + "default.toml"));
  const at::Tensor x = randn({4, 20}), xc = randn({32, 20});
  // default.toml calibrates its ADC ranges: every programmed chip gets a calibration pass.
  auto cal = [&] { calibrate_module(m, xc, "random calibration inputs"); };
  cal();
  const at::Tensor y0 = run(m, x);
  program_chip(m, 3);
  cal();
  const at::Tensor y3 = run(m, x);
  CHECK_FALSE(torch::equal(y3, y0));
  for (const auto& l : xbar_layers(m)) CHECK(l->counters().at("chip") == 3);
  program_chip(m, 0);
  cal();
  CHECK(torch::equal(run(m, x), y0));  // same chip, read stream restarted
  drift_model(m, 1e6);
  for (const auto& l : xbar_layers(m)) CHECK(l->time_s() == 1e6);
  const at::Tensor yd = run(m, x);
  CHECK_FALSE(torch::equal(yd, y0));
  reset_model(m);
  for (const auto& l : xbar_layers(m)) {
    CHECK(l->time_s() == 1.0);  // default.toml: run.t_inference_s = 1
    CHECK(l->counters().at("reads") == 0);
  }
  cal();
  CHECK(torch::equal(run(m, x), y0));
}

TEST_CASE("FLOP measurement: each product's FLOPs are 2 x vectors x in x out, float products listed with their share") {
  // mixed(): the W @ x product stays float. Closed forms for the example input 2 x 2 x 4 x 6:
  // gconv (2 groups of 1 input channel, 3x3, 4 outputs, padding 1): 2 * (2*4*4*6 outputs) * 9;
  // proj: 2 * (2*4*4 rows) * 6 * 5; W @ x (the 4 x 4 parameter times 2 x 4 matrices of 4 x 5, K = 4):
  // 2 * (2*4*4*5 outputs) * 4.
  auto [ref_m, m] = twins(mixed, 6);
  const ConvertReport rep = convert_module(m, parse_policy(kIdealPolicy, "flops.toml"), {2, 2, 4, 6});
  INFO(rep.table());
  REQUIRE(find_op(rep, "gconv"));
  CHECK(find_op(rep, "gconv")->flops == 2.0 * (2 * 4 * 4 * 6) * 9);
  CHECK(find_op(rep, "proj")->flops == 2.0 * (2 * 4 * 4) * 6 * 5);
  double left = -1;
  for (const auto& o : rep.ops)
    if (!o.converted) left = o.flops;
  CHECK(left == 2.0 * (2 * 4 * 4 * 5) * 4);
  CHECK(rep.table().find("matrix-product FLOPs on arrays: ") != std::string::npos);
  // The probes are gone from the converted model: its graph has no xbar::flops_probe.
  std::ostringstream g;
  g << *m.get_method("forward").graph();
  CHECK(g.str().find("flops_probe") == std::string::npos);
  const at::Tensor x = randn({2, 2, 4, 6});
  CHECK(rel_err(run(m, x), run(ref_m, x)) < kModelTol);
}

TEST_CASE("FLOP measurement: operators it cannot count are listed as not measured; the caller's random state is kept") {
  torch::jit::Module m("Mv");
  m.register_parameter("w", randn({5, 6}), false);
  m.register_parameter("fc_weight", randn({4, 5}), false);
  m.define(R"(
def forward(self, x):
    return torch.linear(torch.mv(self.w, x), self.fc_weight)
)");
  at::manual_seed(21);
  const at::Tensor before = randn({4});
  at::manual_seed(21);
  const ConvertReport rep = convert_module(m, parse_policy(kIdealPolicy, "flops.toml"), {6});
  CHECK(torch::equal(randn({4}), before));  // the probe's input comes from its own generator
  const std::string t = rep.table();
  INFO(t);
  CHECK(t.find("float (FLOPs not measured)  aten::mv") != std::string::npos);
  CHECK(t.find("matrix-product FLOPs on arrays: 100.00% of the measured (1 float operator(s) above not measured)") !=
        std::string::npos);
}

// einsum as models write it: a linear layer, the two attention products, and a trace (no product).
torch::jit::Module einsum_model() {
  torch::jit::Module m("Einsum");
  m.register_parameter("proj_weight", randn({8, 6}), false);
  m.register_parameter("w2", randn({8, 8}), false);
  m.define(R"(
def forward(self, x):
    h = torch.einsum("bti,oi->bto", [x, self.proj_weight])
    h = torch.einsum("bti,io->bto", [h, self.w2])
    q = h.view(2, 3, 2, 4).transpose(1, 2)
    s = torch.einsum("bhqd,bhkd->bhqk", [q, q])
    p = torch.softmax(s, -1)
    c = torch.einsum("bhqk,bhkd->bhqd", [p, q])
    return c + torch.einsum("ii->", [self.w2])
)");
  return m;
}

TEST_CASE("einsum: linear and attention forms convert with their classes, other equations stay float") {
  const ConvertReport rep = convert_and_compare(einsum_model, 8, randn({2, 3, 6}), "einsum");
  INFO(rep.table());
  REQUIRE(find_op(rep, "proj"));
  CHECK(find_op(rep, "proj")->op_class == OpClass::linear);
  REQUIRE(find_op(rep, "w2"));
  CHECK(find_op(rep, "w2")->converted);
  REQUIRE(find_op(rep, "scores"));
  CHECK(find_op(rep, "scores")->op_class == OpClass::attn_qk);
  REQUIRE(find_op(rep, "context"));
  CHECK(find_op(rep, "context")->op_class == OpClass::attn_av);
  CHECK(rep.table().find("4 analog, 0 digital-emulated, 1 left in float") != std::string::npos);
}
