#include "torch/module_bytes.h"

#include <ATen/ATen.h>

#include <cstring>
#include <sstream>
#include <string>

namespace xbar {

torch::jit::Module module_from_bytes(const at::Tensor& bytes) {
  const at::Tensor b = bytes.contiguous().to(at::kByte);
  std::istringstream in(std::string(reinterpret_cast<const char*>(b.data_ptr<uint8_t>()), size_t(b.numel())));
  return torch::jit::load(in);
}

at::Tensor module_to_bytes(const torch::jit::Module& m) {
  std::ostringstream out;
  m.save(out);
  const std::string s = out.str();
  at::Tensor result = at::empty({int64_t(s.size())}, at::kByte);
  std::memcpy(result.data_ptr<uint8_t>(), s.data(), s.size());
  return result;
}

}  // namespace xbar
