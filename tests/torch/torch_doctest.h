// Test support header for every Torch test: Torch headers FIRST, then doctest. Debian's LibTorch
// is built with glog, whose CHECK macro silently replaces doctest's CHECK when doctest.h comes
// first (checks stop being counted and a failure aborts). Include only this header in tests that
// use Torch; keep Torch out of devices/ and circuits/ tests.
#pragma once
#include <torch/csrc/jit/frontend/resolver.h>
#include <torch/csrc/jit/frontend/sugared_value.h>
#include <torch/script.h>

#include <doctest/doctest.h>

#include <string>

#include "torch/layer_state.h"

// Note: compare c10::ScalarType and sizes inside double parentheses, CHECK((a == b)): doctest
// would otherwise stringify them through c10::toString (found by ADL), which does not compile.

namespace xbar::test {

// Max |a - b| / max|b| (relative to the reference's largest magnitude), in double.
inline double rel_err(const at::Tensor& a, const at::Tensor& ref) {
  const at::Tensor r = ref.to(at::kDouble);
  const double scale = r.abs().max().item<double>();
  return (a.to(at::kDouble) - r).abs().max().item<double>() / (scale > 0 ? scale : 1.0);
}

// What c10::Error says without its C++ backtrace.
template <class F>
std::string c10_error_message(F&& f) {
  try {
    f();
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  }
  return "<no c10::Error thrown>";
}

inline c10::intrusive_ptr<XbarLayer> make_layer(const std::string& config_toml, const std::string& op_class = "linear",
                                                const std::string& mode = "analog", int64_t bits = 0,
                                                const std::string& name = "test") {
  return c10::make_intrusive<XbarLayer>(name, op_class, mode, bits, config_toml);
}

// Module::define() compiles with the native resolver, which knows only `torch.` (aten) names;
// this one also resolves `xbar.` to the xbar operator namespace (xbar.linear -> xbar::linear).
struct XbarResolver : torch::jit::Resolver {
  std::shared_ptr<torch::jit::SugaredValue> resolveValue(const std::string& name, torch::jit::GraphFunction& m,
                                                         const torch::jit::SourceRange& loc) override {
    if (name == "xbar") return std::make_shared<torch::jit::BuiltinModule>("xbar");
    return torch::jit::nativeResolver()->resolveValue(name, m, loc);
  }
  c10::TypePtr resolveType(const std::string&, const torch::jit::SourceRange&) override { return nullptr; }
};

inline void define_with_xbar(torch::jit::Module& m, const std::string& src) {
  m.define(src, std::make_shared<XbarResolver>());
}

// Every stage ideal: the default XbarConfig (ideal device, no DAC/ADC quantization, continuous weights).
inline const char* kIdealToml = "[device]\nmodel = \"ideal\"\n";

}  // namespace xbar::test
