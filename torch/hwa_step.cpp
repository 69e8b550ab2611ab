#include "torch/hwa_step.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "common/error.h"
#include "torch/convert.h"

namespace xbar {

int64_t hwa_train_chip(uint64_t seed, int64_t step) {
  return (int64_t(1) << 40) + int64_t(seed % (uint64_t(1) << 20)) * (int64_t(1) << 20) + step;
}

double cosine_lr(int64_t s, int64_t n, double peak) {
  const int64_t warm = std::max<int64_t>(1, std::min<int64_t>(200, n / 20));
  if (s < warm) return peak * double(s + 1) / double(warm);
  const double t = double(s - warm) / double(std::max<int64_t>(1, n - warm));
  return peak * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * t)));
}

Policy hwa_training_policy(const Policy& eval, double t_train_s, bool read_noise) {
  Policy p = eval;
  if (t_train_s >= 0) p.defaults.run.t_inference_s = t_train_s;
  if (!read_noise) p.defaults.device.read_noise_scale = 0.0;
  p.defaults.validate();
  return p;
}

HwaTrained hwa_trained(const std::vector<c10::intrusive_ptr<XbarLayer>>& layers,
                       const std::vector<std::string>& param_names, const std::vector<at::Tensor>& params) {
  std::map<std::string, int64_t> index;
  for (size_t i = 0; i < param_names.size(); ++i) index[param_names[i]] = int64_t(i);
  HwaTrained t;
  for (size_t k = 0; k < layers.size(); ++k) {
    if (!layers[k]->trainable()) continue;
    const auto it = index.find(layers[k]->name() + ".weight");
    if (it == index.end()) continue;
    t.layers.push_back(layers[k]);
    t.weights.push_back(params[size_t(it->second)]);
    t.layer_index.push_back(int64_t(k));
    t.param_index.push_back(it->second);
  }
  return t;
}

std::vector<std::pair<std::string, at::Tensor>> named_params(const torch::jit::Module& m) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : m.named_parameters()) out.emplace_back(p.name, p.value);
  return out;
}

HwaTrained hwa_trained(const torch::jit::Module& m) {
  std::vector<std::string> names;
  std::vector<at::Tensor> values;
  for (const auto& [n, v] : named_params(m)) {
    names.push_back(n);
    values.push_back(v);
  }
  return hwa_trained(xbar_layers(m), names, values);
}

std::vector<at::Tensor> hwa_ranges(const std::vector<c10::intrusive_ptr<XbarLayer>>& layers) {
  std::vector<at::Tensor> r;
  for (const auto& l : layers)
    if (l->input_range().defined()) r.push_back(l->input_range());
  return r;
}

void hwa_constrain(const std::vector<at::Tensor>& weights, const std::vector<at::Tensor>& ranges, WeightClip clip,
                   double clip_value) {
  at::NoGradGuard ng;
  if (clip != WeightClip::none)
    for (const auto& w : weights) {
      const double c = clip == WeightClip::fixed ? clip_value : clip_value * w.std().item<double>();
      if (c > 0) w.clamp_(-c, c);
    }
  for (const auto& r : ranges) r.clamp_min_(1e-6);
}

Policy hwa_ranged_policy(const Policy& base, const std::vector<c10::intrusive_ptr<XbarLayer>>& layers) {
  Policy p = base;
  // Rules in layer-name order: the same text whichever order a front end lists the layers in.
  std::vector<c10::intrusive_ptr<XbarLayer>> sorted = layers;
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a->name() < b->name(); });
  for (const auto& l : sorted) {
    const at::Tensor r = l->input_range();
    if (!r.defined()) continue;
    PolicyRule rule;
    rule.match.clear();  // (its default is "*", which would make the rule a suffix match)
    for (char c : l->name()) {  // a literal match: escape glob characters
      if (c == '*' || c == '?' || c == '[' || c == '\\') rule.match += '\\';
      rule.match += c;
    }
    rule.assignments = {{"dac.range", std::string("static")}, {"dac.static_range", r.item<double>()}};
    p.rules.push_back(rule);
  }
  return p;
}

void hwa_copy_params(const std::vector<std::pair<std::string, at::Tensor>>& from, torch::jit::Module& to) {
  std::map<std::string, at::Tensor> src;
  for (const auto& [name, value] : from)
    if (!src.emplace(name, value).second) throw Error("trained parameter " + name + " is given twice");
  std::map<std::string, at::Tensor> dst;
  for (const auto& p : to.named_parameters()) dst.emplace(p.name, p.value);
  for (const auto& [name, value] : src) {
    auto it = dst.find(name);
    if (it == dst.end()) throw Error("trained parameter " + name + " is not a parameter of the float model");
    if (!value.sizes().equals(it->second.sizes()))
      throw Error("trained parameter " + name + " has shape " + c10::str(value.sizes()) + ", the float model's " +
                  c10::str(it->second.sizes()));
  }
  at::NoGradGuard ng;
  for (const auto& [name, p] : dst) {
    auto it = src.find(name);
    if (it == src.end()) throw Error("parameter " + name + " of the float model has no counterpart in the trained model");
    p.copy_(it->second);
  }
}

}  // namespace xbar
