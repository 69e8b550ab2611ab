// In-process conversion for Python (python/xbar): the model travels as its TorchScript archive
// bytes (torch.jit.save into memory), is converted by convert_module with a policy given as TOML
// text, and comes back the same way (torch/module_bytes.h) with the conversion report. No files.
#include <torch/library.h>
#include <torch/script.h>

#include "engine/policy.h"
#include "torch/convert.h"
#include "torch/module_bytes.h"

namespace xbar {
namespace {

std::tuple<at::Tensor, std::string, std::vector<std::string>> convert_serialized(const at::Tensor& model,
                                                                                const std::string& policy_toml,
                                                                                const std::string& policy_source) {
  torch::jit::Module m = module_from_bytes(model);
  require_float_model(m, "the model");
  const ConvertReport rep = convert_module(m, parse_policy(policy_toml, policy_source));
  const at::Tensor result = module_to_bytes(m);
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
