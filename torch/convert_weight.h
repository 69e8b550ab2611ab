// Constant weights in a TorchScript graph: a module attribute reached from `self`, possibly through
// views (t, transpose, reshape, contiguous, to, ...) and row selections (slice, chunk, split) of it,
// as nn.MultiheadAttention takes its q/k/v projections from in_proj_weight.
#pragma once
#include <torch/csrc/jit/ir/ir.h>
#include <torch/script.h>

#include <optional>
#include <string>

namespace xbar {

// Module path of a value reached from `self` through prim::GetAttr ("blocks.0.fc.weight").
std::optional<std::string> attr_path(torch::jit::Value* v, torch::jit::Value* self);

struct WeightExpr {
  std::string path;       // attribute path of the parameter ("layers.0.self_attn.in_proj_weight")
  std::string part;       // which rows, when a selection ("q", "kv", "rows0_16", "part1"); empty: all
  int64_t dim = -1;       // the parameter's rank (-1: not a tensor attribute)
  bool reshaped = false;  // a view/reshape/permute changed its layout
  bool transposes_only = true;  // every layout change on the way is a 2-D transpose (t, transpose)
  // Layer name: the owning module's path, then for an attribute `X_weight` its X ("in_proj"), then
  // the part ("encoder.layers.0.self_attn.in_proj.q"); a top-level parameter is named by itself.
  std::string layer_name() const;
  // The module the attribute belongs to ("layers.0.self_attn").
  std::string module() const;
};

// The weight expression `v` stands for, or nothing when `v` depends on an activation or goes
// through an operator that is not a view or row selection.
std::optional<WeightExpr> weight_expr(torch::jit::Value* v, torch::jit::Value* self, const torch::jit::Module& m);

// True when `v` is a module attribute that holds None in `m` (an optional weight such as
// nn.MultiheadAttention's q_proj_weight when packed): its product is on a branch never taken.
bool none_attribute(torch::jit::Value* v, torch::jit::Value* self, const torch::jit::Module& m);

}  // namespace xbar
