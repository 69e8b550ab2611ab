#include "torch/graph_nodes.h"

namespace xbar {

namespace {
void collect(torch::jit::Block* b, std::vector<torch::jit::Node*>& out) {
  for (torch::jit::Node* n : b->nodes()) {
    out.push_back(n);
    for (torch::jit::Block* sub : n->blocks()) collect(sub, out);
  }
}
}  // namespace

std::vector<torch::jit::Node*> all_nodes(torch::jit::Block* b) {
  std::vector<torch::jit::Node*> out;
  collect(b, out);
  return out;
}

}  // namespace xbar
