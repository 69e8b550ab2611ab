#include "torch/calibrate.h"

#include <algorithm>

#include "common/error.h"
#include "torch/convert.h"

namespace xbar {

bool needs_calibration(const torch::jit::Module& m) {
  for (const auto& l : xbar_layers(m))
    if (l->needs_calibration()) return true;
  return false;
}

CalibrationMode::CalibrationMode(const torch::jit::Module& m) : m_(m) {
  for (auto& l : xbar_layers(m_)) l->set_calibrating(true);
}

CalibrationMode::~CalibrationMode() {
  for (auto& l : xbar_layers(m_)) l->set_calibrating(false);
}

void calibrate_module(torch::jit::Module& m, const at::Tensor& inputs, const std::string& source) {
  {
    at::NoGradGuard ng;
    m.eval();  // dropout off: the pass reads what inference reads
    CalibrationMode mode(m);
    m.forward({inputs});
    // Layers only the decode method uses (a policy whose phase = "decode" rules give them their own
    // config): the same inputs through decode from empty KV caches, which computes what forward
    // computes, with only those layers calibrating (the others read with the ranges just set).
    const auto layers = xbar_layers(m);
    const bool missing = std::any_of(layers.begin(), layers.end(), [](const auto& l) { return !l->calibrated(); });
    if (missing && m.find_method("decode") && inputs.dim() == 2) {
      for (auto& l : layers)
        if (l->calibrated()) l->set_calibrating(false);
      m.get_method("decode")({inputs, c10::List<at::Tensor>(), c10::List<at::Tensor>()});
    }
  }
  for (auto& l : xbar_layers(m)) {
    if (!l->calibrated())
      throw Error("calibration: layer " + l->name() + " needs calibrated ADC ranges but the forward pass did not "
                  "reach it (a layer used only by a method other than forward and decode)");
    if (l->needs_calibration()) l->set_calibration_source(source);
  }
}

}  // namespace xbar
