// torch.einsum forms that are matrix products: "...ic,...cj->...ij" / "...ic,...jc->...ij"
// (batched, the attention forms) and "...c,nc->...n" / "...c,cn->...n" (a linear layer).
#pragma once
#include <torch/csrc/jit/ir/ir.h>

#include <optional>

namespace xbar {

struct EinsumProduct {
  torch::jit::Value* a;  // left factor
  torch::jit::Value* b;  // right factor
  bool transpose_b;      // the product is a @ b^T (b's last two indices swapped)
  bool vector;           // b is a 2-D matrix applied to a's last index (a linear form)
};

// The product an aten::einsum node computes, or nothing for other equations (more or fewer than
// two operands, traces, sums over more than one index, permuted outputs).
std::optional<EinsumProduct> einsum_product(torch::jit::Node* n);

}  // namespace xbar
