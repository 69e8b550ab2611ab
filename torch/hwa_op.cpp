// The HWA steps of torch/hwa_step.h as registered ops, for Python's xbar.hwa (python/xbar/hwa.py):
// the same functions `xbar train --hwa` calls. Policies travel as TOML text, models as their
// TorchScript archive bytes (torch/module_bytes.h).
#include <torch/library.h>
#include <torch/script.h>

#include "torch/convert.h"
#include "torch/hwa_step.h"
#include "torch/module_bytes.h"

namespace xbar {
namespace {

using Layers = c10::List<c10::intrusive_ptr<XbarLayer>>;

std::vector<c10::intrusive_ptr<XbarLayer>> to_vector(const Layers& l) { return {l.begin(), l.end()}; }

int64_t train_chip(int64_t seed, int64_t step) { return hwa_train_chip(uint64_t(seed), step); }

std::string training_policy(const std::string& toml, const std::string& source, double t_train_s, bool read_noise) {
  return policy_to_toml(hwa_training_policy(parse_policy(toml, source), t_train_s, read_noise));
}

// (layer index, parameter index) of every trained layer.
std::tuple<std::vector<int64_t>, std::vector<int64_t>> trained(const Layers& layers,
                                                               const std::vector<std::string>& param_names) {
  const HwaTrained t = hwa_trained(to_vector(layers), param_names, std::vector<at::Tensor>(param_names.size()));
  return {t.layer_index, t.param_index};
}

void constrain(const std::vector<at::Tensor>& weights, const std::vector<at::Tensor>& ranges, const std::string& clip,
               double clip_value) {
  hwa_constrain(weights, ranges, parse_enum<WeightClip>("clip", clip), clip_value);
}

std::string ranged_policy(const std::string& toml, const std::string& source, const Layers& layers) {
  return policy_to_toml(hwa_ranged_policy(parse_policy(toml, source), to_vector(layers)));
}

at::Tensor export_float(const at::Tensor& model, const std::vector<std::string>& names,
                        const std::vector<at::Tensor>& values) {
  TORCH_CHECK(names.size() == values.size(), "xbar hwa_export_float: ", names.size(), " parameter names but ",
              values.size(), " values");
  torch::jit::Module m = module_from_bytes(model);
  std::vector<std::pair<std::string, at::Tensor>> from;
  for (size_t i = 0; i < names.size(); ++i) from.emplace_back(names[i], values[i]);
  hwa_copy_params(from, m);
  return module_to_bytes(m);
}

}  // namespace
}  // namespace xbar

TORCH_LIBRARY_FRAGMENT(xbar, m) {
  m.def("hwa_train_chip(int seed, int step) -> int", &xbar::train_chip);
  m.def("hwa_cosine_lr(int step, int total, float peak) -> float", &xbar::cosine_lr);
  m.def("hwa_training_policy(str policy_toml, str policy_source, float t_train_s, bool read_noise) -> str",
        &xbar::training_policy);
  m.def("hwa_trained(__torch__.torch.classes.xbar.Layer[] layers, str[] param_names) -> (int[], int[])",
        &xbar::trained);
  m.def("hwa_constrain(Tensor[] weights, Tensor[] ranges, str clip, float clip_value) -> ()", &xbar::constrain);
  m.def("hwa_ranged_policy(str policy_toml, str policy_source, __torch__.torch.classes.xbar.Layer[] layers) -> str",
        &xbar::ranged_policy);
  m.def("hwa_export_float(Tensor float_model, str[] names, Tensor[] values) -> Tensor", &xbar::export_float);
}
