// torch/module_bytes.h against LibTorch's file functions: the bytes written to a file load with
// torch::jit::load(path), a file written by Module::save(path) loads from its bytes, and either way
// the module comes back with the same parameters, attributes and outputs (exactly).
#include "tests/torch/torch_doctest.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "torch/module_bytes.h"

using namespace xbar;

namespace {
torch::jit::Module small_module() {
  torch::jit::Module m("Small");
  m.register_parameter("weight", at::randn({3, 4}), false);
  m.register_attribute("xbar_tag", c10::StringType::get(), std::string("kept"));
  m.define(R"(
def forward(self, x):
    return torch.linear(x, self.weight) * 2.0
)");
  return m;
}

// Same parameters, attribute and output as `m`.
void check_same(torch::jit::Module l, torch::jit::Module m) {
  CHECK(at::equal(l.attr("weight").toTensor(), m.attr("weight").toTensor()));
  CHECK(l.attr("xbar_tag").toStringRef() == "kept");
  const at::Tensor x = at::randn({5, 4});
  CHECK(at::equal(l.forward({x}).toTensor(), m.forward({x}).toTensor()));
}
}  // namespace

TEST_CASE("module_to_bytes / module_from_bytes agree with LibTorch's file save and load") {
  const torch::jit::Module m = small_module();
  const std::string path = "/tmp/xbar_test_module_bytes_" + std::to_string(::getpid()) + ".pt";

  const at::Tensor b = module_to_bytes(m);
  CHECK((b.scalar_type() == at::kByte));
  CHECK(b.dim() == 1);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data_ptr<uint8_t>()), b.numel());
  check_same(torch::jit::load(path), m);

  m.save(path);
  std::ifstream f(path, std::ios::binary);
  const std::string file((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::remove(path.c_str());
  const at::Tensor fb = at::from_blob(const_cast<char*>(file.data()), {int64_t(file.size())}, at::kByte).clone();
  check_same(module_from_bytes(fb), m);
  check_same(module_from_bytes(fb.to(at::kChar)), m);  // any integer dtype holding the bytes
}
