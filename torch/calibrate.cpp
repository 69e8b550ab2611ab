#include "torch/calibrate.h"

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
  for (auto& l : xbar_layers(m)) {
    if (!l->calibrated())
      throw Error("calibration: layer " + l->name() + " needs calibrated ADC ranges but the forward pass did not "
                  "reach it (a layer used only by another method, e.g. decode)");
    if (l->needs_calibration()) l->set_calibration_source(source);
  }
}

}  // namespace xbar
