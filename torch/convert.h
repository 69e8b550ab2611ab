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
  double flops = -1;  // measured on the example input (all calls of this node); -1: not measured
};

// The phase of a TorchScript method's operators: decode for methods whose name holds "decode"
// (KV-cache generation, one token per call), prefill for every other.
inline Phase method_phase(const std::string& method) {
  return method.find("decode") != std::string::npos ? Phase::decode : Phase::prefill;
}

struct ConvertReport {
  std::vector<ConvertedOp> ops;
  std::vector<std::string> warnings;  // e.g. policy rules that matched nothing
  std::vector<int64_t> example_shape;  // input of the FLOP measurement (empty: none)
  // Human-readable report; with a FLOP measurement each matrix product's share of the forward's
  // matrix-product FLOPs, every operator left in float with its share and reason, and the
  // fraction on arrays last.
  std::string table() const;
};

// torch::jit::load with a FileError naming the file when it is missing or not TorchScript.
torch::jit::Module load_torchscript(const std::string& path);
// Saves m atomically: path holds the old file or the complete new one (common/atomic_file.h).
void save_torchscript(const torch::jit::Module& m, const std::string& path);
// InputError naming path when m is already converted (holds xbar layers): conversion and
// evaluation start from the float model.
void require_float_model(const torch::jit::Module& m, const std::string& path);

// Rewrites every method of `m` in place. Throws ConfigError for an invalid policy. With an
// example shape, runs a copy of the converted model once on a seeded random float input of that
// shape (its layers calibrating, so no ranges are needed; `m` is not run) to measure each matrix
// product's FLOPs.
ConvertReport convert_module(torch::jit::Module& m, const Policy& policy,
                             const std::vector<int64_t>& example_shape = {});

// Lifecycle of a converted model's layer states.
std::vector<c10::intrusive_ptr<XbarLayer>> xbar_layers(const torch::jit::Module& m);
void program_chip(torch::jit::Module& m, int64_t chip);  // next forward programs this chip
void drift_model(torch::jit::Module& m, double t_s);
void reset_model(torch::jit::Module& m);

}  // namespace xbar
