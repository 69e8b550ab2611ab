#include "ml/train.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/optim/adam.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "common/error.h"
#include "common/progress.h"

namespace xbar::models {

namespace {

constexpr double kLn2 = 0.69314718055994530942;

std::vector<at::Tensor> trainable(torch::jit::Module& m) {
  std::vector<at::Tensor> p;
  for (auto t : m.parameters()) p.push_back(t.requires_grad_(true));
  if (p.empty()) throw Error("model has no parameters to train");
  return p;
}

void set_lr(torch::optim::Adam& opt, double lr) {
  for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
}

// Tracks the loss history for first/last-5% means and the progress line.
struct LossLog {
  std::vector<double> v;
  TrainResult result(double seconds) const {
    TrainResult r;
    r.steps = int64_t(v.size());
    r.seconds = seconds;
    const size_t k = std::max<size_t>(1, v.size() / 20);
    for (size_t i = 0; i < k && i < v.size(); ++i) r.first_loss += v[i] / double(k);
    for (size_t i = v.size() >= k ? v.size() - k : 0; i < v.size(); ++i) r.last_loss += v[i] / double(k);
    return r;
  }
  std::string info() const {
    double s = 0;
    const size_t k = std::min<size_t>(50, v.size());
    for (size_t i = v.size() - k; i < v.size(); ++i) s += v[i] / double(k);
    char b[48];
    std::snprintf(b, sizeof b, "loss %.4f", s);
    return b;
  }
};

Hparams resolve(const std::string& model, const TrainOptions& o) {
  Hparams h = default_hparams(model);
  if (o.epochs > 0) h.epochs = o.epochs;
  if (o.batch > 0) h.batch = o.batch;
  if (o.lr > 0) h.lr = o.lr;
  return h;
}

}  // namespace

Hparams default_hparams(const std::string& model) {
  if (model == "mlp") return {8, 128, 1e-3};
  if (model == "cnn") return {4, 64, 2e-3};
  if (model == "cnn7k") return {8, 64, 3e-3};
  if (model == "vit") return {12, 128, 2e-3};
  if (model == "gpt") return {1, 32, 3e-3};
  throw Error("unknown model '" + model + "' (expected mlp, cnn, cnn7k, vit or gpt)");
}

double lr_at(int64_t s, int64_t n, double peak, LrSchedule schedule) {
  if (schedule == LrSchedule::constant) return peak;
  const int64_t warm = std::max<int64_t>(1, std::min<int64_t>(200, n / 20));
  if (s < warm) return peak * double(s + 1) / double(warm);
  const double t = double(s - warm) / double(std::max<int64_t>(1, n - warm));
  return peak * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * t)));
}

TrainResult train_classifier(torch::jit::Module& m, const data::ImageSet& train, const std::string& model,
                             const TrainOptions& o) {
  const Hparams h = resolve(model, o);
  int64_t n = train.images.size(0);
  if (o.max_examples > 0) n = std::min(n, o.max_examples);
  const int64_t per_epoch = (n + h.batch - 1) / h.batch;
  int64_t total = per_epoch * h.epochs;
  if (o.max_steps > 0) total = std::min(total, o.max_steps);
  torch::optim::Adam opt(trainable(m), torch::optim::AdamOptions(h.lr));
  at::Generator gen = at::detail::createCPUGenerator(o.seed);
  m.train();
  LossLog log;
  Progress bar("train " + model, total, o.progress);
  for (int64_t s = 0; s < total;) {
    const at::Tensor perm = at::randperm(n, gen);
    for (int64_t b = 0; b < per_epoch && s < total; ++b, ++s) {
      const at::Tensor idx = perm.slice(0, b * h.batch, std::min(n, (b + 1) * h.batch));
      const at::Tensor logits = m.forward({train.images.index_select(0, idx)}).toTensor();
      const at::Tensor loss = at::cross_entropy_loss(logits, train.labels.index_select(0, idx));
      set_lr(opt, lr_at(s, total, h.lr, o.schedule));
      opt.zero_grad();
      loss.backward();
      opt.step();
      log.v.push_back(loss.item<double>());
      bar.update(s + 1, "epoch " + std::to_string(s / per_epoch + 1) + "/" + std::to_string(h.epochs) + " " + log.info());
    }
  }
  bar.finish();
  m.eval();
  return log.result(bar.seconds());
}

void check_labels(const data::ImageSet& d, int64_t classes, const std::string& what) {
  const int64_t hi = d.labels.max().item<int64_t>();  // labels are bytes: never negative
  if (hi >= classes)
    throw InputError(what + ": label " + std::to_string(hi) + " but the model has " + std::to_string(classes) +
                     " outputs (classes 0.." + std::to_string(classes - 1) + ")");
}

double classifier_accuracy(torch::jit::Module& m, const data::ImageSet& test, int64_t batch) {
  at::NoGradGuard ng;
  const int64_t n = test.images.size(0);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; i += batch) {
    const at::Tensor x = test.images.slice(0, i, std::min(n, i + batch));
    const at::Tensor logits = m.forward({x}).toTensor();
    if (i == 0) check_labels(test, logits.size(1), "evaluated labels");  // else they would count as wrong answers
    const at::Tensor pred = logits.argmax(1);
    correct += pred.eq(test.labels.slice(0, i, std::min(n, i + batch))).sum().item<int64_t>();
  }
  return double(correct) / double(n);
}

TrainResult train_gpt(torch::jit::Module& m, const data::TextCorpus& c, const TrainOptions& o) {
  const Hparams h = resolve("gpt", o);
  const int64_t ctx = m.attr("context_len").toInt();
  const int64_t n = c.train_tokens.numel();
  if (n < ctx + 2) throw Error("training text has " + std::to_string(n) + " tokens, fewer than context + 2");
  const int64_t per_epoch = std::max<int64_t>(1, n / (h.batch * ctx));
  int64_t total = per_epoch * h.epochs;
  if (o.max_steps > 0) total = std::min(total, o.max_steps);
  torch::optim::Adam opt(trainable(m), torch::optim::AdamOptions(h.lr));
  at::Generator gen = at::detail::createCPUGenerator(o.seed);
  const at::Tensor span = at::arange(ctx + 1, at::kLong);
  m.train();
  LossLog log;
  Progress bar("train gpt", total, o.progress);
  for (int64_t s = 0; s < total; ++s) {
    const at::Tensor start = at::randint(n - ctx - 1, {h.batch, 1}, gen, at::kLong);
    const at::Tensor win = c.train_tokens.index({start + span});  // [batch, ctx + 1]
    const at::Tensor logits = m.forward({win.slice(1, 0, ctx)}).toTensor();
    const at::Tensor loss =
        at::cross_entropy_loss(logits.reshape({-1, logits.size(2)}), win.slice(1, 1, ctx + 1).reshape({-1}));
    set_lr(opt, lr_at(s, total, h.lr, o.schedule));
    opt.zero_grad();
    loss.backward();
    opt.step();
    log.v.push_back(loss.item<double>() / kLn2);
    bar.update(s + 1, log.info() + " bit/char");
  }
  bar.finish();
  m.eval();
  return log.result(bar.seconds());
}

double lm_bpc(torch::jit::Module& m, const at::Tensor& tokens, int64_t context, int64_t batch) {
  at::NoGradGuard ng;
  const int64_t windows = (tokens.numel() - 1) / context;
  if (windows < 1) throw Error("lm_bpc: fewer than context + 1 tokens");
  const at::Tensor x = tokens.slice(0, 0, windows * context).reshape({windows, context});
  const at::Tensor y = tokens.slice(0, 1, windows * context + 1).reshape({windows, context});
  double nats = 0;
  for (int64_t i = 0; i < windows; i += batch) {
    const int64_t j = std::min(windows, i + batch);
    const at::Tensor logits = m.forward({x.slice(0, i, j)}).toTensor();
    nats += at::cross_entropy_loss(logits.reshape({-1, logits.size(2)}), y.slice(0, i, j).reshape({-1}), {},
                                   at::Reduction::Sum)
                .item<double>();
  }
  return nats / double(windows * context) / kLn2;
}

double unigram_bpc(const at::Tensor& train, const at::Tensor& valid, int64_t vocab) {
  const at::Tensor counts = at::bincount(train, {}, vocab).to(at::kDouble) + 1.0;
  const at::Tensor logp = (counts / counts.sum()).log2();
  return -logp.index_select(0, valid).mean().item<double>();
}

}  // namespace xbar::models
