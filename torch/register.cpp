// The one registration file: the xbar operator library and its custom class.
#include <torch/library.h>

#include "torch/flop_count.h"
#include "torch/ops.h"
#include "torch/model_cost.h"

TORCH_LIBRARY(xbar, m) {
  m.class_<xbar::XbarLayer>("Layer")
      .def(torch::init<std::string, std::string, std::string, int64_t, std::string>())
      .def("program", &xbar::XbarLayer::program)
      .def("drift_to", &xbar::XbarLayer::drift_to)
      .def("reset", &xbar::XbarLayer::reset)
      .def("set_chip", &xbar::XbarLayer::set_chip)
      .def("counters", &xbar::XbarLayer::counters)
      .def("set_calibrating", &xbar::XbarLayer::set_calibrating)
      .def("calibrating", &xbar::XbarLayer::calibrating)
      .def("needs_calibration", &xbar::XbarLayer::needs_calibration)
      .def("calibrated", &xbar::XbarLayer::calibrated)
      .def("adc_lsbs", &xbar::XbarLayer::adc_lsbs)
      .def("set_calibration_source", &xbar::XbarLayer::set_calibration_source)
      .def("calibration_source", &xbar::XbarLayer::calibration_source)
      // Cost of everything counted since programming, divided by `inferences` (engine/cost.h).
      .def("cost",
           [](const c10::intrusive_ptr<xbar::XbarLayer>& s, std::string hardware_file, double inferences) {
             return xbar::cost_dict(s->cost(xbar::load_hardware(hardware_file), inferences));
           })
      // Noise-aware training (torch/hwa_step.h): learned input ranges of analog weight products.
      .def("trainable", &xbar::XbarLayer::trainable)
      .def("learn_input_range", &xbar::XbarLayer::learn_input_range)
      .def("learns_input_range", &xbar::XbarLayer::learns_input_range)
      .def("input_range", [](const c10::intrusive_ptr<xbar::XbarLayer>& s) { return s->input_range(); })
      .def("set_input_range", &xbar::XbarLayer::set_input_range)
      .def("name", [](const c10::intrusive_ptr<xbar::XbarLayer>& s) { return s->name(); })
      .def("op_class", [](const c10::intrusive_ptr<xbar::XbarLayer>& s) { return xbar::enum_string(s->op_class()); })
      .def("mode", [](const c10::intrusive_ptr<xbar::XbarLayer>& s) { return xbar::enum_string(s->mode()); })
      .def("config", [](const c10::intrusive_ptr<xbar::XbarLayer>& s) { return s->config_toml(); })
      .def_pickle([](const c10::intrusive_ptr<xbar::XbarLayer>& s) { return s->state(); },
                  [](std::vector<std::string> st) { return xbar::XbarLayer::from_state(st); });
  m.def("linear(Tensor x, Tensor weight, Tensor? bias, __torch__.torch.classes.xbar.Layer state) -> Tensor");
  m.def(
      "conv2d(Tensor x, Tensor weight, Tensor? bias, int[2] stride, int[2] padding, int[2] dilation, int groups, "
      "__torch__.torch.classes.xbar.Layer state) -> Tensor");
  m.def(
      "conv1d(Tensor x, Tensor weight, Tensor? bias, int[1] stride, int[1] padding, int[1] dilation, int groups, "
      "__torch__.torch.classes.xbar.Layer state) -> Tensor");
  m.def("flops_probe(Tensor(a) out, Tensor operand, int row, bool weight) -> Tensor(a)");
  m.def("matmul(Tensor a, Tensor b, __torch__.torch.classes.xbar.Layer state) -> Tensor");
}

// Autograd functions inside the kernels record the straight-through backward; one composite
// kernel therefore serves inference and training.
TORCH_LIBRARY_IMPL(xbar, CompositeImplicitAutograd, m) {
  m.impl("linear", &xbar::op_linear);
  m.impl("conv2d", &xbar::op_conv2d);
  m.impl("conv1d", &xbar::op_conv1d);
  m.impl("flops_probe", &xbar::op_flops_probe);
  m.impl("matmul", &xbar::op_matmul);
}
