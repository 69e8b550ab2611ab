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
  }
  // Layers only a decode method reaches (per-phase policies) wait for calibrate_decode_module.
  const bool decode = m.find_method("decode").has_value();
  for (auto& l : xbar_layers(m)) {
    if (!l->calibrated()) {
      if (decode) continue;
      throw Error("calibration: layer " + l->name() + " needs calibrated ADC ranges but the forward pass did not "
                  "reach it (a layer used only by another method)");
    }
    if (l->needs_calibration()) l->set_calibration_source(source);
  }
}

bool calibrate_decode_module(torch::jit::Module& m, const at::Tensor& inputs, const std::string& source) {
  std::vector<c10::intrusive_ptr<XbarLayer>> missing;
  for (auto& l : xbar_layers(m))
    if (!l->calibrated()) missing.push_back(l);
  if (missing.empty()) return false;
  if (!m.find_method("decode"))
    throw Error("calibration: layer " + missing[0]->name() + " needs calibrated ADC ranges and the model has no decode method");
  {
    // Only the missing layers calibrate (CalibrationMode would restart the calibrated attention
    // layers' ranges); the others read with their ranges.
    at::NoGradGuard ng;
    m.eval();
    for (auto& l : missing) l->set_calibrating(true);
    try {
      m.get_method("decode")({inputs, c10::List<at::Tensor>(), c10::List<at::Tensor>()});
    } catch (...) {
      for (auto& l : missing) l->set_calibrating(false);
      throw;
    }
    for (auto& l : missing) l->set_calibrating(false);
  }
  for (auto& l : missing) {
    if (!l->calibrated())
      throw Error("calibration: layer " + l->name() + " needs calibrated ADC ranges but neither forward nor decode reached it");
    l->set_calibration_source(source);
  }
  return true;
}

}  // namespace xbar
