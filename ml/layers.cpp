#include "ml/layers.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <cstdio>

namespace xbar::models {

Builder::Builder(const std::string& model, uint64_t seed)
    : cu_(std::make_shared<torch::jit::CompilationUnit>()), model_(model), gen_(at::detail::createCPUGenerator(seed)) {}

torch::jit::Module Builder::module(const std::string& kind, const std::string& path) {
  std::string id = path.empty() ? "model" : path;
  for (char& c : id)
    if (c == '.') c = '_';
  // Classes live in one compilation unit per model; names must be unique and valid identifiers.
  return torch::jit::Module(c10::QualifiedName("__torch__.xbar_zoo." + model_ + "." + kind + "_" + id), cu_);
}

at::Tensor Builder::normal(at::IntArrayRef shape, double std) { return at::empty(shape).normal_(0, std, gen_); }
at::Tensor Builder::uniform(at::IntArrayRef shape, double bound) { return at::empty(shape).uniform_(-bound, bound, gen_); }

torch::jit::Module Builder::linear(const std::string& path, int64_t in, int64_t out, double init_std) {
  auto m = module("Linear", path);
  const double b = 1.0 / std::sqrt(double(in));
  m.register_parameter("weight", init_std > 0 ? normal({out, in}, init_std) : uniform({out, in}, b), false);
  m.register_parameter("bias", init_std > 0 ? at::zeros({out}) : uniform({out}, b), false);
  m.define("def forward(self, x):\n    return torch.linear(x, self.weight, self.bias)\n");
  return m;
}

torch::jit::Module Builder::conv2d(const std::string& path, int64_t cin, int64_t cout, int64_t k, int64_t stride,
                                   int64_t pad) {
  auto m = module("Conv2d", path);
  const double b = 1.0 / std::sqrt(double(cin * k * k));
  m.register_parameter("weight", uniform({cout, cin, k, k}, b), false);
  m.register_parameter("bias", uniform({cout}, b), false);
  const std::string s = std::to_string(stride), p = std::to_string(pad);
  m.define("def forward(self, x):\n    return torch.conv2d(x, self.weight, self.bias, [" + s + ", " + s + "], [" + p +
           ", " + p + "], [1, 1], 1)\n");
  return m;
}

torch::jit::Module Builder::layer_norm(const std::string& path, int64_t dim) {
  auto m = module("LayerNorm", path);
  m.register_parameter("weight", at::ones({dim}), false);
  m.register_parameter("bias", at::zeros({dim}), false);
  m.define("def forward(self, x):\n    return torch.layer_norm(x, [" + std::to_string(dim) +
           "], self.weight, self.bias, 1e-5)\n");
  return m;
}

torch::jit::Module Builder::embedding(const std::string& path, int64_t n, int64_t dim, double init_std) {
  auto m = module("Embedding", path);
  m.register_parameter("weight", normal({n, dim}, init_std), false);
  m.define("def forward(self, idx):\n    return torch.embedding(self.weight, idx)\n");
  return m;
}

std::string lit(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", x);
  std::string s = buf;
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

}  // namespace xbar::models
