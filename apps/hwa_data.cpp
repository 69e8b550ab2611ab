#include "apps/hwa_data.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "common/error.h"
#include "ml/model_data.h"
#include "ml/train.h"

namespace xbar {

namespace {
Task task_of(const torch::jit::Module& m) {
  if (!m.hasattr("xbar_task")) return Task::fashion_mnist;
  const std::string t = m.attr("xbar_task").toStringRef();
  for (Task k : {Task::fashion_mnist, Task::text})
    if (t == model_task_attribute(k)) return k;
  throw InputError("the model's xbar_task '" + t + "' is neither '" + model_task_attribute(Task::fashion_mnist) +
                   "' nor '" + model_task_attribute(Task::text) + "'");
}
}  // namespace

HwaData load_hwa_data(const torch::jit::Module& m, const std::string& image_dir, int64_t valid_samples,
                      int64_t test_samples, int64_t max_examples) {
  HwaData h;
  h.task = task_of(m);
  const data::ImageData images = image_data_for(m, image_dir.empty() ? data::default_image_dir() : image_dir);
  if (h.task == Task::text) {
    if (!image_dir.empty()) throw ConfigError("--data", image_dir, "applies to image classifiers, not the text task");
    if (!m.hasattr("context_len")) throw InputError("a text model needs a context_len attribute");
    h.context = m.attr("context_len").toInt();
    const at::Tensor t = data::load_fortunes().train_tokens;
    h.tokens = t.slice(0, 0, t.numel() - held_out_tokens(t.numel()));
    if (h.tokens.numel() < h.context + 2) throw Error("training text shorter than one context window");
    h.examples = h.tokens.numel() / h.context;
    h.name = "fortunes";
  } else {
    h.train = data::load_images(images, "train");
    const int64_t n = h.train.images.size(0) - held_out_images(h.train.images.size(0));
    h.train.images = h.train.images.slice(0, 0, n);
    h.train.labels = h.train.labels.slice(0, 0, n);
    h.examples = n;
    h.name = images.name();
    h.norm = images.norm ? *images.norm : data::normalisation_of(images.dir);
  }
  if (max_examples > 0) h.examples = std::min(h.examples, max_examples);
  h.valid = load_validation_data(h.task, valid_samples, 0, {}, images);
  h.test = load_eval_data(h.task, test_samples, 0, {}, images);
  return h;
}

at::Tensor HwaData::epoch_order(uint64_t seed, int epoch) const {
  at::Generator gen = at::detail::createCPUGenerator(seed * 1000003ull + uint64_t(epoch));
  if (task == Task::text) return at::randint(tokens.numel() - context - 1, {examples}, gen, at::kLong);
  return at::randperm(examples, gen);
}

std::pair<at::Tensor, at::Tensor> HwaData::batch(const at::Tensor& order, int64_t b, int64_t size) const {
  const at::Tensor idx = order.slice(0, b * size, std::min(examples, (b + 1) * size));
  if (task == Task::fashion_mnist) return {train.images.index_select(0, idx), train.labels.index_select(0, idx)};
  const at::Tensor win = tokens.index({idx.unsqueeze(1) + at::arange(context + 1, at::kLong)});  // [B, ctx + 1]
  return {win.slice(1, 0, context), win.slice(1, 1, context + 1)};
}

at::Tensor HwaData::loss(const at::Tensor& logits, const at::Tensor& target) const {
  if (task == Task::fashion_mnist) {
    const int64_t hi = target.numel() > 0 ? target.max().item<int64_t>() : 0;
    if (hi >= logits.size(1))
      throw InputError(name + " training labels: label " + std::to_string(hi) + " but the model has " +
                       std::to_string(logits.size(1)) + " outputs (classes 0.." + std::to_string(logits.size(1) - 1) + ")");
    return at::cross_entropy_loss(logits, target);
  }
  return at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), target.reshape({-1}));
}

}  // namespace xbar
