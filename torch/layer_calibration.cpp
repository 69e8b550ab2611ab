// Calibration mode of a converted layer: ADC ranges are set only by an explicit calibration pass.
#include <algorithm>

#include "torch/layer_state.h"

namespace xbar {

bool needs_ranges(const XbarConfig& cfg, OpMode mode) {
  return mode == OpMode::analog && !cfg.adc.ideal() && cfg.adc.range == AdcRange::calibrated;
}

void XbarLayer::set_calibrating(bool on) {
  std::lock_guard<std::mutex> g(mu_);
  // Attention layers keep the largest full scale over the pass: start from none.
  if (on && !calibrating_ && !has_weights(op_class_)) adc_lsbs_.clear();
  calibrating_ = on;
}

bool XbarLayer::calibrating() const {
  std::lock_guard<std::mutex> g(mu_);
  return calibrating_;
}

bool XbarLayer::needs_calibration() const {
  std::lock_guard<std::mutex> g(mu_);
  return needs_ranges(cfg_, mode_);
}

bool XbarLayer::calibrated() const {
  std::lock_guard<std::mutex> g(mu_);
  return has_ranges();
}

bool XbarLayer::has_ranges() const { return !needs_ranges(cfg_, mode_) || !adc_lsbs_.empty(); }

std::vector<double> XbarLayer::adc_lsbs() const {
  std::lock_guard<std::mutex> g(mu_);
  return adc_lsbs_;
}

void XbarLayer::set_calibration_source(const std::string& s) {
  std::lock_guard<std::mutex> g(mu_);
  calibration_source_ = s;
}

std::string XbarLayer::calibration_source() const {
  std::lock_guard<std::mutex> g(mu_);
  return calibration_source_;
}

void XbarLayer::require_ranges() const {
  TORCH_CHECK(has_ranges(), "xbar layer ", name_,
              ": adc.range = \"calibrated\" and this chip has no calibrated ranges. Calibrate it on calibration "
              "data first: xbar eval / sweep do it on --calibration-samples training samples, xbar convert "
              "--calibrate TASK stores ranges in the model, in Python call xbar.calibrate(module, batches) "
              "after xbar.program(module, chip)");
}

void XbarLayer::calibrate_operand(const Eigen::Ref<const RowMatrixXf>& a) {
  layer_->calibrate(a);  // this operand reads with its own ranges during the pass
  const std::vector<double> l = layer_->adc_lsbs();
  const double m = *std::max_element(l.begin(), l.end());
  if (adc_lsbs_.empty()) adc_lsbs_.push_back(m);
  else adc_lsbs_[0] = std::max(adc_lsbs_[0], m);
}

void XbarLayer::apply_operand_range() {
  require_ranges();
  layer_->set_adc_lsbs(std::vector<double>(layer_->adc_lsbs().size(), adc_lsbs_.at(0)));
}

}  // namespace xbar
