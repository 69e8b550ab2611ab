// The calibration protocol: ranges come from a seeded subset of the training data outside the
// held-out part, never from the evaluated split; the same set gives bit-identical ranges; a layer
// with calibrated ADC refuses to read without them; saved models carry ranges and source.
#include "tests/ml/torch_doctest.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "engine/policy.h"
#include "ml/calibration.h"
#include "ml/evaluate.h"
#include "torch/calibrate.h"
#include "torch/convert.h"

using namespace xbar;

namespace {
std::string src(const std::string& rel) { return std::string(XBAR_SOURCE_DIR) + "/" + rel; }

torch::jit::Module converted(const std::string& model, const std::string& policy_file, int chip) {
  torch::jit::Module m = load_torchscript(src(model));
  convert_module(m, load_policy(src(policy_file)));
  program_chip(m, chip);
  return m;
}

std::vector<std::vector<double>> ranges(const torch::jit::Module& m) {
  std::vector<std::vector<double>> r;
  for (const auto& l : xbar_layers(m))
    if (l->needs_calibration()) r.push_back(l->adc_lsbs());
  return r;
}
}  // namespace

TEST_CASE("the calibration set is a seeded subset of the training split, outside the held-out part") {
  CalibrationOptions o;
  o.samples = 64;
  o.seed = 7;
  const CalibrationSet c = load_calibration_set(Task::fashion_mnist, o);
  CHECK(c.split == "train");
  CHECK_FALSE(c.leaks());
  REQUIRE(c.indices.numel() == 64);
  const data::ImageSet train = data::load_images({}, "train");
  // Every index lies in the calibration pool, and the images are exactly those training images.
  CHECK(c.indices.max().item<int64_t>() < train.images.size(0) - kHeldOutImages);
  CHECK(c.indices.min().item<int64_t>() >= 0);
  CHECK(std::get<0>(at::_unique(c.indices)).numel() == 64);  // no repeats
  CHECK(torch::equal(c.images, train.images.index_select(0, c.indices)));
  // Same seed, same set; another seed, another set.
  CHECK(torch::equal(load_calibration_set(Task::fashion_mnist, o).indices, c.indices));
  o.seed = 8;
  CHECK_FALSE(torch::equal(load_calibration_set(Task::fashion_mnist, o).indices, c.indices));
  CHECK(c.source() == "fashion_mnist train 64 samples seed 7");
  // Only the loudly named option draws from the test split, and the source says so.
  o.on_test_data = true;
  const CalibrationSet t = load_calibration_set(Task::fashion_mnist, o);
  CHECK(t.split == "test");
  CHECK(t.leaks());
  CHECK(t.source().find("CALIBRATED ON THE EVALUATED DATA") != std::string::npos);
}

TEST_CASE("text calibration windows come from the training tokens before the held-out tail") {
  CalibrationOptions o;
  o.samples = 16;
  const CalibrationSet c = load_calibration_set(Task::text, o);
  const data::TextCorpus corpus = data::load_fortunes();
  const int64_t n = corpus.train_tokens.numel();
  REQUIRE(c.tokens.numel() == n - int64_t(double(n) * kHeldOutFraction));
  CHECK(torch::equal(c.tokens, corpus.train_tokens.slice(0, 0, c.tokens.numel())));
  torch::jit::Module g = load_torchscript(src("data/models/gpt.pt"));
  at::Tensor idx;
  const at::Tensor x = calibration_inputs(c, g, &idx);
  const int64_t ctx = g.attr("context_len").toInt();
  REQUIRE(x.sizes() == at::IntArrayRef({16, ctx}));
  for (int64_t i = 0; i < 16; ++i) {
    const int64_t w = idx[i].item<int64_t>();
    CHECK(torch::equal(x[i], corpus.train_tokens.slice(0, w * ctx, (w + 1) * ctx)));
  }
}

TEST_CASE("eval calibrates on the calibration set only, bit-identically, and never on the evaluated data") {
  CalibrationOptions o;
  o.samples = 128;
  const EvalData d = load_eval_data(Task::fashion_mnist, 200, 0, o);
  // Reading a calibrated-ADC chip without a calibration pass is refused with directions.
  torch::jit::Module raw = converted("data/models/mlp.pt", "data/policies/default.toml", 0);
  try {
    evaluate(raw, d);
    FAIL("evaluation without calibration did not throw");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()).find("calibrate") != std::string::npos);
  }
  // The protocol's ranges equal those of a pass over exactly the recorded training images...
  torch::jit::Module a = converted("data/models/mlp.pt", "data/policies/default.toml", 0);
  REQUIRE(calibrate(a, d.calibration));
  torch::jit::Module b = converted("data/models/mlp.pt", "data/policies/default.toml", 0);
  const data::ImageSet train = data::load_images({}, "train");
  calibrate_module(b, train.images.index_select(0, d.calibration.indices), "manual");
  const auto ra = ranges(a);
  REQUIRE(!ra.empty());
  CHECK(ra == ranges(b));  // bit-identical doubles
  // ...and differ from a pass over the evaluated images (so the check above can fail).
  torch::jit::Module t = converted("data/models/mlp.pt", "data/policies/default.toml", 0);
  calibrate_module(t, d.images.images.slice(0, 0, 128), "test");
  CHECK(ra != ranges(t));
  for (const auto& l : xbar_layers(a))
    if (l->needs_calibration()) CHECK(l->calibration_source() == "fashion_mnist train 128 samples seed 1");
  // Evaluating afterwards leaves the ranges as they were (evaluation reads do not calibrate).
  evaluate(a, d);
  CHECK(ranges(a) == ra);
}

TEST_CASE("a saved calibrated model reloads with its ranges and source and reads the same") {
  CalibrationOptions o;
  o.samples = 64;
  const CalibrationSet c = load_calibration_set(Task::fashion_mnist, o);
  torch::jit::Module m = converted("data/models/cnn7k.pt", "data/policies/default.toml", 2);
  REQUIRE(calibrate(m, c));
  const std::string path = (std::filesystem::temp_directory_path() / ("xbar_calibrated_" + std::to_string(::getpid()) + ".pt")).string();
  m.save(path);
  torch::jit::Module l = torch::jit::load(path);
  std::remove(path.c_str());
  CHECK(ranges(l) == ranges(m));
  for (const auto& x : xbar_layers(l))
    if (x->needs_calibration()) CHECK(x->calibration_source() == c.source());
  const EvalData d = load_eval_data(Task::fashion_mnist, 100, 0, o);
  at::NoGradGuard ng;
  const at::Tensor ym = m.forward({d.images.images}).toTensor(), yl = l.forward({d.images.images}).toTensor();
  CHECK(torch::equal(ym, yl));
}
