// PyTorch's fused inference kernels (nn.MultiheadAttention's and nn.TransformerEncoderLayer's fast
// paths in eval mode) rewritten into the equivalent graph of aten operators, so that conversion
// maps their projections and attention products like any other.
#pragma once
#include <torch/csrc/jit/ir/ir.h>

#include <map>
#include <string>

namespace xbar {

// Replaces every aten::_native_multi_head_attention and aten::_transformer_encoder_layer_fwd in
// `g` (after inlining) by its decomposition: the packed in-projection (or one per q/k/v chunk of
// the packed weight for distinct query/key/value) as aten::linear, QK^T and PV as aten::matmul,
// masks and softmax as in the fused kernel, the out-projection (and for the encoder layer the
// norms, residuals and feed-forward network). Returns the attention products it created, each
// with the module path of its attention (from the in-projection weight), for naming.
std::map<torch::jit::Node*, std::string> decompose_fused(torch::jit::Graph& g, torch::jit::Value* self);

}  // namespace xbar
