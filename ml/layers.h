// Building blocks for TorchScript models defined in C++ (no Python): every layer is its own tiny
// torch::jit::Module holding weight/bias parameters and a forward calling the functional aten op,
// so a saved model loads anywhere with torch.jit.load and the conversion pass finds each weight
// product as aten::linear / aten::conv2d named by module path (e.g. "blocks.0.attn.qkv").
#pragma once
#include <torch/script.h>

#include <cstdint>
#include <string>

namespace xbar::models {

class Builder {
 public:
  // model: class-name prefix; seed: every initial weight is drawn from this generator.
  Builder(const std::string& model, uint64_t seed);

  // An empty module with a class of its own (kind + path make the TorchScript class name unique).
  torch::jit::Module module(const std::string& kind, const std::string& path);

  // y = x W^T + b. init_std > 0: W ~ N(0, init_std^2), b = 0; else PyTorch's default
  // U(-1/sqrt(in), 1/sqrt(in)) for W and b.
  torch::jit::Module linear(const std::string& path, int64_t in, int64_t out, double init_std = 0);
  // Square kernel, PyTorch's default init.
  torch::jit::Module conv2d(const std::string& path, int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t pad);
  torch::jit::Module layer_norm(const std::string& path, int64_t dim);
  torch::jit::Module embedding(const std::string& path, int64_t n, int64_t dim, double init_std);

  at::Tensor normal(at::IntArrayRef shape, double std);
  at::Tensor uniform(at::IntArrayRef shape, double bound);

 private:
  std::shared_ptr<torch::jit::CompilationUnit> cu_;
  std::string model_;
  at::Generator gen_;
};

// "%.9g" of x: a float literal for TorchScript source.
std::string lit(double x);

}  // namespace xbar::models
