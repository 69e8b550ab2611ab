// all_nodes (torch/graph_nodes.h) against LibTorch's own depth-first walk
// (torch::jit::DepthFirstGraphNodeIterator, which enters if / loop / with blocks): the same nodes in
// the same order, nested bodies included.
#include "tests/torch/torch_doctest.h"

#include <torch/csrc/jit/runtime/graph_iterator.h>

#include <vector>

#include "torch/graph_nodes.h"

using namespace xbar;

TEST_CASE("all_nodes lists a graph's nodes depth first, if and loop bodies included, as LibTorch's iterator") {
  torch::jit::Module m("Branches");
  m.register_parameter("weight", at::randn({4, 4}), false);
  m.define(R"(
def forward(self, x, n: int):
    y = torch.linear(x, self.weight)
    if n > 2:
        y = torch.relu(y)
        for i in range(n):
            if i == 1:
                y = y * 2.0
            else:
                y = torch.matmul(y, self.weight)
    else:
        y = y + 1.0
    return y.sum()
)");
  std::shared_ptr<torch::jit::Graph> g = m.get_method("forward").graph();
  std::vector<torch::jit::Node*> expected;
  torch::jit::DepthFirstGraphNodeIterator it(g);
  for (torch::jit::Node* n = it.next(); n != nullptr; n = it.next()) expected.push_back(n);
  const std::vector<torch::jit::Node*> got = all_nodes(g->block());
  CHECK(got == expected);
  int ifs = 0, loops = 0, matmuls = 0;
  for (torch::jit::Node* n : got) {
    ifs += n->kind() == c10::prim::If;
    loops += n->kind() == c10::prim::Loop;
    matmuls += n->kind() == c10::aten::matmul;
  }
  CHECK(ifs == 2);
  CHECK(loops == 1);
  CHECK(matmuls == 1);  // two blocks deep
}
