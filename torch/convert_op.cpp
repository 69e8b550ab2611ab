// In-process conversion for Python (python/xbar): the model travels as its TorchScript archive
// bytes (torch.jit.save into memory), is converted by convert_module with a policy given as TOML
// text, and comes back the same way with the conversion report. No files.
#include <torch/library.h>
#include <torch/script.h>

#include <sstream>

#include "engine/policy.h"
#include "torch/convert.h"

namespace xbar {
namespace {

std::tuple<at::Tensor, std::string, std::vector<std::string>> convert_serialized(const at::Tensor& model,
                                                                                const std::string& policy_toml,
                                                                                const std::string& policy_source) {
  const at::Tensor bytes = model.contiguous().to(at::kByte);
  std::istringstream in(std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), size_t(bytes.numel())));
  torch::jit::Module m = torch::jit::load(in);
  require_float_model(m, "the model");
  const ConvertReport rep = convert_module(m, parse_policy(policy_toml, policy_source));
  std::ostringstream out;
  m.save(out);
  const std::string s = out.str();
  at::Tensor result = at::empty({int64_t(s.size())}, at::kByte);
  std::memcpy(result.data_ptr<uint8_t>(), s.data(), s.size());
  // One tab-separated row per operator: method, name, kind, op class, converted (0/1), reason.
  std::vector<std::string> ops;
  for (const auto& o : rep.ops)
    ops.push_back(o.method + "\t" + o.name + "\t" + o.kind + "\t" + (o.op_class ? enum_string(*o.op_class) : "") +
                  "\t" + (o.converted ? "1" : "0") + "\t" + o.reason);
  return {result, rep.table(), ops};
}

}  // namespace
}  // namespace xbar

TORCH_LIBRARY_FRAGMENT(xbar, m) {
  m.def("convert_serialized(Tensor model, str policy_toml, str policy_source) -> (Tensor, str, str[])",
        &xbar::convert_serialized);
}
