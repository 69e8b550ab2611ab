#include "ml/calibration.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "ml/image_data.h"
#include "ml/text_corpus.h"
#include "torch/calibrate.h"
#include "torch/convert.h"

namespace xbar {

namespace {
// The first n of a permutation of 0..total-1 seeded by `seed` (the same on every platform LibTorch runs).
at::Tensor seeded_subset(int64_t total, int64_t n, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return at::randperm(total, gen).slice(0, 0, std::min(n, total));
}
int64_t context_of(const torch::jit::Module& m) {
  if (!m.hasattr("context_len")) throw Error("calibration on text needs a model with a context_len attribute");
  return m.attr("context_len").toInt();
}
}  // namespace

int64_t held_out_images(int64_t n) { return std::min(kHeldOutImages, int64_t(double(n) * kHeldOutFraction)); }
int64_t held_out_tokens(int64_t n) { return int64_t(double(n) * kHeldOutFraction); }

std::string CalibrationSet::source() const {
  std::string s = enum_string(task) + " " + split + " " + std::to_string(samples) + " samples seed " + std::to_string(seed);
  if (!data.empty() && data != "fashion-mnist") s += " (" + data + ")";
  if (leaks()) s += " (CALIBRATED ON THE EVALUATED DATA: results have seen their test inputs)";
  return s;
}

CalibrationSet load_calibration_set(Task task, const CalibrationOptions& o, const data::ImageData& images) {
  if (o.samples < 1) throw ConfigError("--calibration-samples", std::to_string(o.samples), "must be >= 1");
  CalibrationSet c;
  c.task = task;
  c.seed = o.seed;
  c.samples = o.samples;
  if (task == Task::fashion_mnist) {
    c.split = o.on_test_data ? "test" : "train";
    c.data = images.name();
    data::ImageSet d = data::load_images(images, c.split);
    const int64_t n = d.images.size(0), pool = o.on_test_data ? n : n - held_out_images(n);
    c.indices = seeded_subset(pool, o.samples, o.seed);
    c.images = d.images.index_select(0, c.indices);
    c.samples = c.indices.numel();
  } else {
    const data::TextCorpus corpus = data::load_fortunes();
    c.split = o.on_test_data ? "valid" : "train";
    if (o.on_test_data) {
      c.tokens = corpus.valid_tokens;
    } else {
      const int64_t n = corpus.train_tokens.numel();
      c.tokens = corpus.train_tokens.slice(0, 0, n - held_out_tokens(n));
    }
  }
  return c;
}

at::Tensor calibration_inputs(const CalibrationSet& c, const torch::jit::Module& m, at::Tensor* indices) {
  if (c.task == Task::fashion_mnist) {
    if (indices) *indices = c.indices;
    return c.images;
  }
  const int64_t ctx = context_of(m);
  const int64_t windows = c.tokens.numel() / ctx;
  if (windows < 1) throw Error("calibration: fewer tokens than one context window");
  const at::Tensor w = seeded_subset(windows, c.samples, c.seed);
  if (indices) *indices = w;
  return c.tokens.slice(0, 0, windows * ctx).reshape({windows, ctx}).index_select(0, w);
}

bool calibrate(torch::jit::Module& m, const CalibrationSet& c) {
  if (!needs_calibration(m)) return false;
  at::Tensor idx;
  const at::Tensor x = calibration_inputs(c, m, &idx);
  CalibrationSet used = c;
  used.samples = idx.numel();
  calibrate_module(m, x, used.source());
  return true;
}

bool calibrate_decode(torch::jit::Module& m, const CalibrationSet& c) {
  for (const auto& l : xbar_layers(m))
    if (!l->calibrated()) {
      at::Tensor idx;
      const at::Tensor x = calibration_inputs(c, m, &idx);
      CalibrationSet used = c;
      used.samples = idx.numel();
      return calibrate_decode_module(m, x, used.source());
    }
  return false;
}

}  // namespace xbar
