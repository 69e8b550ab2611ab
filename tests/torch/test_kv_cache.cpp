// Attention operands written to arrays as tokens arrive (KV-cache decode).
#include "tests/torch/torch_doctest.h"

#include <cmath>
#include <string>

#include "torch/ops.h"

using namespace xbar;

namespace {
// Programming noise only (no read noise, ideal DAC/ADC): a cell's value is fixed once written.
const char* kProgNoise =
    "[device]\nmodel = \"normal\"\nnormal.prog_sigma_uS = 1.0\n[mapping]\nscale = \"column\"\n[run]\nt_inference_s = 0\n";
}  // namespace

TEST_CASE("decode keeps earlier tokens' programmed cells: their scores repeat exactly") {
  torch::manual_seed(3);
  const at::Tensor q = at::randn({1, 2, 1, 8}), K = at::randn({1, 2, 5, 8}), k_new = at::randn({1, 2, 1, 8});
  auto L = test::make_layer(kProgNoise, "attn_qk");
  const at::Tensor s0 = op_matmul(q, K.transpose(-2, -1), L);  // prefill: 5 tokens written
  const at::Tensor K1 = at::cat({K, k_new}, 2);
  const at::Tensor s1 = op_matmul(q, K1.transpose(-2, -1), L);  // decode: one token appended
  // Same cells, same inputs, no read noise: the first 5 scores are identical.
  CHECK(at::equal(s1.narrow(-1, 0, 5), s0));
  // The write noise is real: the scores differ from the float product by the programming noise.
  const double err = test::rel_err(s1, at::matmul(q, K1.transpose(-2, -1)));
  CHECK(err > 1e-3);
  CHECK(err < 0.5);
  // A different K (not an extension) is a new write with new noise.
  const at::Tensor K2 = K1 * 1.0001;
  const at::Tensor s2 = op_matmul(q, K2.transpose(-2, -1), L);
  CHECK_FALSE(at::allclose(s2.narrow(-1, 0, 5), s0, 0, 1e-6));
}

TEST_CASE("decode keeps earlier V tokens' programmed cells: rows are appended, not redrawn") {
  // V is the stationary operand of attn_av with one array row per token. The new token is half of
  // token 0, so no column's scale changes; with zero weight on it, the output differs from the
  // prefill output only by float summation order (tolerance 1e-5 relative) if the earlier rows kept
  // their cells, and by the programming noise (~1e-2) if they were redrawn.
  torch::manual_seed(4);
  const at::Tensor p = at::rand({1, 2, 1, 5}), V = at::randn({1, 2, 5, 8});
  auto L = test::make_layer(kProgNoise, "attn_av");
  const at::Tensor y0 = op_matmul(p, V, L);
  const at::Tensor V1 = at::cat({V, 0.5 * V.narrow(2, 0, 1)}, 2);
  const at::Tensor p1 = at::cat({p, at::zeros({1, 2, 1, 1})}, 3);
  const at::Tensor y1 = op_matmul(p1, V1, L);
  CHECK(test::rel_err(y1, y0) < 1e-5);
  // Control: the same product as a fresh write (not an extension) has other noise.
  const at::Tensor y2 = op_matmul(p1, V1 * 1.0001, L);
  CHECK(test::rel_err(y2, y0) > 1e-3);
}

TEST_CASE("a KV operand changed in place after its write is written again, not extended") {
  // The arrays hold a copy of what was written: K^T viewed from a contiguous K (which the layer
  // could read without copying) then changed in place must not look like the prefix of the next
  // call's longer K. Programming noise only: the stale cells would give the old scores exactly.
  for (const char* op : {"attn_qk", "attn_av"}) {
    torch::manual_seed(6);
    const bool qk = std::string(op) == "attn_qk";
    auto L = test::make_layer(kProgNoise, op);
    at::Tensor K = at::randn({1, 2, 5, 8});
    const at::Tensor x = qk ? at::randn({1, 2, 1, 8}) : at::rand({1, 2, 1, 5});
    auto operand = [&](const at::Tensor& k) { return qk ? k.transpose(-2, -1) : k; };
    const at::Tensor s0 = op_matmul(x, operand(K), L);
    K.mul_(-1.0);  // in place, as a cache buffer reused for another sequence
    const at::Tensor K1 = at::cat({K, at::randn({1, 2, 1, 8})}, 2);
    const at::Tensor x1 = qk ? x : at::cat({x, at::zeros({1, 2, 1, 1})}, 3);
    const at::Tensor s1 = op_matmul(x1, operand(K1), L);
    const at::Tensor head = qk ? s1.narrow(-1, 0, 5) : s1;
    INFO(op);
    // New cells hold -K: the scores follow the float product of -K (programming noise, < 0.5
    // relative), not the negated stale ones.
    CHECK(test::rel_err(head, at::matmul(x, operand(K))) < 0.5);
    CHECK(test::rel_err(head, -s0) > 1e-3);
  }
}

TEST_CASE("decode: earlier tokens drift with their age") {
  // nu = 0.1 for every device, no noise; K and q positive so each score scales by the drift
  // factor of its token's cells: ((t + age + t0)/t0)^-nu, age = (steps since written) * interval.
  const char* cfg =
      "[device]\nmodel = \"normal\"\nnormal.drift_nu = 0.1\nnormal.t0_s = 20\n[mapping]\nscale = \"column\"\n"
      "[run]\nt_inference_s = 10\ntoken_interval_s = 100\n";
  auto L = test::make_layer(cfg, "attn_qk");
  const at::Tensor q = at::ones({1, 1, 1, 4}, at::kDouble);
  at::Tensor K = at::ones({1, 1, 1, 4}, at::kDouble);
  at::Tensor s;
  for (int step = 0; step < 4; ++step) {
    s = op_matmul(q, K.transpose(-2, -1), L);
    K = at::cat({K, at::ones({1, 1, 1, 4}, at::kDouble)}, 2);
  }
  // After 4 calls the tokens were written at steps 0, 1, 2, 3: ages 300, 200, 100, 0 s.
  for (int tok = 0; tok < 4; ++tok) {
    const double age = 100.0 * (3 - tok);
    const double expect = 4.0 * std::pow((10.0 + age + 20.0) / 20.0, -0.1);
    INFO("token " << tok);
    // Float32 engine: 1e-6 relative.
    CHECK(s[0][0][0][tok].item<double>() == doctest::Approx(expect).epsilon(1e-6));
  }
}

TEST_CASE("attention with a calibrated ADC: one full scale per layer from the calibration pass") {
  torch::manual_seed(5);
  const char* toml = "[adc]\nbits = 8\nrange = \"calibrated\"\n";
  const at::Tensor q1 = at::randn({1, 2, 4, 8}), K1 = at::randn({1, 2, 6, 8});
  const at::Tensor q2 = at::randn({1, 2, 4, 8}), K2 = at::randn({1, 2, 9, 8}).pow(3);  // heavier tails
  auto pass = [&](std::vector<std::pair<at::Tensor, at::Tensor>> ops) {
    auto L = test::make_layer(toml, "attn_qk");
    L->set_calibrating(true);
    for (const auto& [q, K] : ops) op_matmul(q, K.transpose(-2, -1), L);
    L->set_calibrating(false);
    return L;
  };
  // Outside a calibration pass, a layer without ranges refuses to read.
  auto raw = test::make_layer(toml, "attn_qk");
  bool threw = false;
  try {
    op_matmul(q1, K1.transpose(-2, -1), raw);
  } catch (const c10::Error& e) {
    threw = std::string(e.what()).find("calibrat") != std::string::npos;
  }
  CHECK(threw);
  // The layer's full scale is the largest over the pass's operands: the pass over both operands
  // keeps the larger of the two single-operand passes, exactly.
  const double l1 = pass({{q1, K1}})->adc_lsbs().at(0), l2 = pass({{q2, K2}})->adc_lsbs().at(0);
  auto both = pass({{q1, K1}, {q2, K2}});
  REQUIRE(both->adc_lsbs().size() == 1);
  CHECK(both->adc_lsbs()[0] == std::max(l1, l2));
  CHECK(l1 != l2);  // the check above can fail
  // Later operands read with that range and leave it unchanged; an 8-bit ADC over it keeps the
  // product within 5% (Frobenius) of float (every other stage ideal).
  const at::Tensor y = op_matmul(q1, K1.transpose(-2, -1), both);
  CHECK(both->adc_lsbs()[0] == std::max(l1, l2));
  CHECK(test::rel_err(y, at::matmul(q1, K1.transpose(-2, -1))) < 0.05);
}
