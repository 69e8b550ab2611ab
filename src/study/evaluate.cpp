#include "src/study/evaluate.h"

#include "common/error.h"
#include "models/train.h"

namespace xbar {

EvalData load_eval_data(const std::string& task, int64_t samples, int64_t context) {
  EvalData d;
  d.task = task;
  if (task == "fashion_mnist") {
    d.images = data::load_fashion_mnist("test");
    if (samples > 0 && samples < d.images.images.size(0)) {
      d.images.images = d.images.images.slice(0, 0, samples);
      d.images.labels = d.images.labels.slice(0, 0, samples);
    }
  } else if (task == "text") {
    d.tokens = data::load_fortunes().valid_tokens;
    if (samples > 0 && samples < d.tokens.numel()) d.tokens = d.tokens.slice(0, 0, samples);
    d.context = context;
  } else {
    throw Error("unknown task '" + task + "' (fashion_mnist or text)");
  }
  return d;
}

double evaluate(torch::jit::Module& m, const EvalData& d) {
  m.eval();
  if (d.task == "text") {
    const int64_t ctx = d.context > 0 ? d.context : m.attr("context_len").toInt();
    return models::lm_bpc(m, d.tokens, ctx);
  }
  return 100.0 * models::classifier_accuracy(m, d.images, 500);
}

}  // namespace xbar
