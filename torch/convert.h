// Conversion of any TorchScript module: after inlining, aten::linear, aten::conv2d (and traced
// aten::_convolution) and the attention products (aten::matmul / aten::bmm between two
// activations) become xbar ops bound to per-layer state attributes named after the module path.
#pragma once
#include <torch/script.h>

#include <optional>
#include <string>
#include <vector>

#include "engine/policy.h"
#include "torch/layer_state.h"

namespace xbar {

struct ConvertedOp {
  std::string method, name, kind, reason;  // reason: why left unconverted
  std::optional<OpClass> op_class;         // empty: no crossbar mapping for this operator
  OpMode mode = OpMode::analog;            // of a converted operator
  bool converted = false;
};

struct ConvertReport {
  std::vector<ConvertedOp> ops;
  std::vector<std::string> warnings;  // e.g. policy rules that matched nothing
  std::string table() const;          // human-readable report
};

// torch::jit::load with a FileError naming the file when it is missing or not TorchScript.
torch::jit::Module load_torchscript(const std::string& path);

// Rewrites every method of `m` in place. Throws ConfigError for an invalid policy.
ConvertReport convert_module(torch::jit::Module& m, const Policy& policy);

// Lifecycle of a converted model's layer states.
std::vector<c10::intrusive_ptr<XbarLayer>> xbar_layers(const torch::jit::Module& m);
void program_chip(torch::jit::Module& m, int64_t chip);  // next forward programs this chip
void drift_model(torch::jit::Module& m, double t_s);
void reset_model(torch::jit::Module& m);

}  // namespace xbar
