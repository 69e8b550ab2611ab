// Every node of a TorchScript block, the nodes of nested blocks (if / loop bodies, closures)
// included: what conversion scans for products and fused kernels.
#pragma once
#include <torch/csrc/jit/ir/ir.h>

#include <vector>

namespace xbar {

// The nodes of `b` in order, each followed by the nodes of its own blocks (depth first).
std::vector<torch::jit::Node*> all_nodes(torch::jit::Block* b);

}  // namespace xbar
