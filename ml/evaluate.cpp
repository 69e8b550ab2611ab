#include "ml/evaluate.h"

#include <ATen/ATen.h>

#include <cmath>

#include "common/error.h"
#include "ml/train.h"

namespace xbar {

namespace {
void check_counts(int64_t samples, int64_t context) {
  if (samples < 0) throw ConfigError("samples", std::to_string(samples), "must be >= 0 (0 = all)");
  if (context < 0) throw ConfigError("context", std::to_string(context), "must be >= 0 (0 = the model's)");
}
// The first `samples` tokens (0: all).
at::Tensor first_tokens(const at::Tensor& t, int64_t samples) {
  return samples > 0 && samples < t.numel() ? t.slice(0, 0, samples) : t;
}
int64_t context_of(const torch::jit::Module& m, const EvalData& d) {
  return d.context > 0 ? d.context : m.attr("context_len").toInt();
}
// Context windows of the decode evaluation: at most `windows`, each needing context + 1 tokens.
int64_t decode_windows(const torch::jit::Module& m, const EvalData& d, int64_t windows) {
  return std::min(windows, (d.tokens.numel() - 1) / context_of(m, d));
}
}  // namespace

EvalData load_eval_data(Task task, int64_t samples, int64_t context, const CalibrationOptions& cal,
                        const data::ImageData& images) {
  check_counts(samples, context);
  EvalData d;
  d.calibration = load_calibration_set(task, cal, images);
  d.task = task;
  d.data = task == Task::text ? "fortunes" : images.name();
  if (task == Task::fashion_mnist) {
    d.images = data::load_images(images, "test");
    if (samples > 0 && samples < d.images.images.size(0)) {
      d.images.images = d.images.images.slice(0, 0, samples);
      d.images.labels = d.images.labels.slice(0, 0, samples);
    }
  } else {
    d.tokens = first_tokens(data::load_fortunes().valid_tokens, samples);
    d.context = context;
  }
  return d;
}

void require_single_input(const torch::jit::Module& m) {
  const auto method = m.find_method("forward");
  if (!method) throw InputError("the model has no forward method");
  const auto& args = method->function().getSchema().arguments();  // self first
  if (args.size() == 2) return;
  std::string names;
  for (size_t i = 1; i < args.size(); ++i) names += (i > 1 ? ", " : "") + args[i].name();
  throw InputError("the model's forward takes " + std::to_string(args.size() - 1) + " inputs (" + names +
                   "); xbar evaluates models whose forward takes one input tensor");
}

EvalData load_validation_data(Task task, int64_t samples, int64_t context, const CalibrationOptions& cal,
                              const data::ImageData& images) {
  if (cal.on_test_data) throw Error("validation data is training data: calibration on test data does not apply");
  check_counts(samples, context);
  EvalData d;
  d.task = task;
  d.context = context;
  d.calibration = load_calibration_set(task, cal, images);
  d.data = task == Task::text ? "fortunes" : images.name();
  if (task == Task::fashion_mnist) {
    d.images = data::load_images(images, "train");
    int64_t n = d.images.images.size(0), a = n - held_out_images(n);
    if (a == n)
      throw FileError(images.dir + ": " + std::to_string(n) + " training images, too few to hold out a validation "
                      "part (at least 10 are needed)");
    if (samples > 0) n = std::min(n, a + samples);
    // Copies: a view would keep the whole training set alive.
    d.images.images = d.images.images.slice(0, a, n).clone();
    d.images.labels = d.images.labels.slice(0, a, n).clone();
  } else {
    const at::Tensor t = data::load_fortunes().train_tokens;
    const int64_t n = t.numel();
    d.tokens = first_tokens(t.slice(0, n - held_out_tokens(n), n), samples);
  }
  return d;
}

std::string describe(const EvalData& d, const std::string& split) {
  if (d.task == Task::text) return std::to_string(d.tokens.numel()) + " " + split + " characters of " + d.data;
  return std::to_string(d.images.images.size(0)) + " " + split + " images of " + d.data;
}

double evaluate(torch::jit::Module& m, const EvalData& d) {
  require_single_input(m);
  m.eval();
  if (d.task == Task::text) return models::lm_bpc(m, d.tokens, context_of(m, d));
  return 100.0 * models::classifier_accuracy(m, d.images, 500);
}

int64_t eval_inferences(const torch::jit::Module& m, const EvalData& d) {
  if (d.task != Task::text) return d.images.images.size(0);
  const int64_t ctx = context_of(m, d);
  return (d.tokens.numel() - 1) / ctx * ctx;  // lm_bpc: whole windows, every position predicted
}

int64_t decode_inferences(const torch::jit::Module& m, const EvalData& d, int64_t windows) {
  return decode_windows(m, d, windows) * context_of(m, d);
}

double evaluate_decode(torch::jit::Module& m, const EvalData& d, int64_t windows) {
  if (d.task != Task::text)
    throw Error(std::string("decode evaluation needs task text, got '") + enum_name(d.task) + "'");
  if (!m.find_method("decode")) throw Error("the model has no decode method (KV-cache generation)");
  calibrate_decode(m, d.calibration);  // layers only decode reaches (per-phase policies)
  m.eval();
  at::NoGradGuard ng;
  const int64_t ctx = context_of(m, d);
  const int64_t W = decode_windows(m, d, windows);
  if (W < 1) throw Error("decode evaluation: fewer than context + 1 validation tokens");
  // W windows side by side as a batch; each step feeds one token and predicts the next.
  const at::Tensor X = d.tokens.slice(0, 0, W * ctx).reshape({W, ctx});
  const at::Tensor Y = d.tokens.slice(0, 1, W * ctx + 1).reshape({W, ctx});
  c10::List<at::Tensor> k, v;
  double nll = 0;
  for (int64_t t = 0; t < ctx; ++t) {
    auto out = m.get_method("decode")({X.slice(1, t, t + 1), k, v}).toTuple();
    const at::Tensor logits = out->elements()[0].toTensor().reshape({W, -1});
    k = out->elements()[1].toTensorList();
    v = out->elements()[2].toTensorList();
    nll += at::cross_entropy_loss(logits, Y.select(1, t), {}, at::Reduction::Sum).item<double>();
  }
  return nll / double(W * ctx) / std::log(2.0);
}

}  // namespace xbar
