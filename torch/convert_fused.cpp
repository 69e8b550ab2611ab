#include "torch/convert_fused.h"

#include <torch/csrc/api/include/torch/jit.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <set>
#include <vector>

#include "torch/convert_weight.h"
#include "torch/graph_nodes.h"

namespace xbar {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

namespace {

// The fused kernels' computation (ATen native/transformers/attention.cpp and transformer.cpp):
// q is scaled by 1/sqrt(head_dim) after its bias, a boolean mask is True where masked (a row
// masked entirely gives zeros), the attention weights are averaged over heads when asked.
const char* kSource = R"(
def attend(q, k, v, num_head: int, mask: Optional[Tensor], mask_type: Optional[int]):
    B = q.size(0)
    T = q.size(1)
    S = k.size(1)
    E = q.size(2)
    d = E // num_head
    qh = q.view(B, T, num_head, d).transpose(1, 2) * (1.0 / float(d) ** 0.5)
    kt = k.view(B, S, num_head, d).transpose(1, 2).transpose(2, 3)
    vh = v.view(B, S, num_head, d).transpose(1, 2)
    scores = torch.matmul(qh, kt)
    if mask is not None:
        if mask_type is not None and mask_type == 1 and mask.dim() == 2:
            m4 = mask.view(B, 1, 1, S)
        elif mask.dim() == 2:
            m4 = mask.view(1, 1, T, S)
        elif mask.dim() == 3:
            m4 = mask.view(B, num_head, T, S)
        else:
            m4 = mask
        if m4.is_floating_point():
            attn = torch.softmax(scores + m4, -1)
        else:
            attn = torch.softmax(scores.masked_fill(m4, float("-inf")), -1).masked_fill(m4, 0.0)
    else:
        attn = torch.softmax(scores, -1)
    ctx = torch.matmul(attn, vh)
    return ctx.transpose(1, 2).reshape(B, T, E), attn

def out_weights(attn, num_head: int, need_weights: bool, average_attn_weights: bool):
    if need_weights:
        if average_attn_weights:
            return attn.sum(1) / num_head
        return attn
    return attn.new_empty([0])

def mha_packed(query, key, value, embed_dim: int, num_head: int, qkv_weight, qkv_bias, proj_weight, proj_bias,
               mask: Optional[Tensor], need_weights: bool, average_attn_weights: bool, mask_type: Optional[int]):
    qkv = torch.linear(query, qkv_weight, qkv_bias)
    q, k, v = qkv.chunk(3, -1)
    ctx, attn = attend(q, k, v, num_head, mask, mask_type)
    return torch.linear(ctx, proj_weight, proj_bias), out_weights(attn, num_head, need_weights, average_attn_weights)

def mha_separate(query, key, value, embed_dim: int, num_head: int, qkv_weight, qkv_bias, proj_weight, proj_bias,
                 mask: Optional[Tensor], need_weights: bool, average_attn_weights: bool, mask_type: Optional[int]):
    wq, wk, wv = qkv_weight.chunk(3)
    bq, bk, bv = qkv_bias.chunk(3)
    ctx, attn = attend(torch.linear(query, wq, bq), torch.linear(key, wk, bk), torch.linear(value, wv, bv),
                       num_head, mask, mask_type)
    return torch.linear(ctx, proj_weight, proj_bias), out_weights(attn, num_head, need_weights, average_attn_weights)

def encoder_layer(src, embed_dim: int, num_heads: int, qkv_weight, qkv_bias, proj_weight, proj_bias,
                  use_gelu: bool, norm_first: bool, eps: float, norm_weight_1, norm_bias_1, norm_weight_2,
                  norm_bias_2, ffn_weight_1, ffn_bias_1, ffn_weight_2, ffn_bias_2, mask: Optional[Tensor],
                  mask_type: Optional[int]):
    x = src
    if norm_first:
        x = torch.layer_norm(x, [embed_dim], norm_weight_1, norm_bias_1, eps)
    qkv = torch.linear(x, qkv_weight, qkv_bias)
    q, k, v = qkv.chunk(3, -1)
    ctx, attn = attend(q, k, v, num_heads, mask, mask_type)
    x = torch.linear(ctx, proj_weight, proj_bias) + src
    if not norm_first:
        x = torch.layer_norm(x, [embed_dim], norm_weight_1, norm_bias_1, eps)
    res = x
    if norm_first:
        x = torch.layer_norm(x, [embed_dim], norm_weight_2, norm_bias_2, eps)
    h = torch.linear(x, ffn_weight_1, ffn_bias_1)
    if use_gelu:
        h = torch.gelu(h)
    else:
        h = torch.relu(h)
    x = torch.linear(h, ffn_weight_2, ffn_bias_2) + res
    if not norm_first:
        x = torch.layer_norm(x, [embed_dim], norm_weight_2, norm_bias_2, eps)
    return x
)";

struct Decompositions {
  std::shared_ptr<torch::jit::CompilationUnit> cu = torch::jit::compile(kSource);
  torch::jit::GraphFunction& fn(const std::string& name) { return torch::jit::toGraphFunction(cu->get_function(name)); }
  // A flat graph (callees inlined) returning the tuple's elements, so its outputs pair with the
  // fused node's.
  std::shared_ptr<Graph> graph(const std::string& name) {
    auto g = fn(name).graph()->copy();
    torch::jit::Inline(*g);
    Node* ret = g->outputs().at(0)->node();
    if (ret->kind() == c10::prim::TupleConstruct) {
      g->eraseOutput(0);
      for (Value* v : ret->inputs()) g->registerOutput(v);
    }
    return g;
  }
};

}  // namespace

std::map<Node*, std::string> decompose_fused(Graph& g, Value* self) {
  std::map<Node*, std::string> products;
  const std::vector<Node*> nodes = all_nodes(g.block());
  std::vector<Node*> fused;
  for (Node* n : nodes) {
    const std::string k = n->kind().toQualString();
    if (k == "aten::_native_multi_head_attention" || k == "aten::_transformer_encoder_layer_fwd") fused.push_back(n);
  }
  if (fused.empty()) return products;
  static Decompositions d;  // compiled once per process
  for (Node* n : fused) {
    const bool encoder = std::string(n->kind().toQualString()) == "aten::_transformer_encoder_layer_fwd";
    const bool packed = encoder || (n->input(0) == n->input(1) && n->input(1) == n->input(2));
    const std::string name = encoder ? "encoder_layer" : packed ? "mha_packed" : "mha_separate";
    auto callee = d.graph(name);
    Value* qkv_weight = n->input(encoder ? 3 : 5);
    auto w = attr_path(qkv_weight, self);
    std::string module;
    if (w) module = w->rfind('.') == std::string::npos ? "" : w->substr(0, w->rfind('.'));
    const std::vector<Node*> before = all_nodes(g.block());
    const std::set<Node*> old(before.begin(), before.end());
    torch::jit::inlineCallTo(n, &d.fn(name), callee.get());
    for (Node* m : all_nodes(g.block()))
      if (!old.count(m) && m->kind() == c10::aten::matmul) products[m] = module;
  }
  return products;
}

}  // namespace xbar
