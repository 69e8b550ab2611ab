// A TorchScript module as the bytes of its archive in a uint8 tensor: how Python hands models to
// the in-process ops (torch/convert_op.cpp, torch/hwa_op.cpp) without files.
#pragma once
#include <ATen/core/Tensor.h>
#include <torch/script.h>

namespace xbar {

// Loads the module whose archive (torch.jit.save into memory) `bytes` holds (any integer dtype).
torch::jit::Module module_from_bytes(const at::Tensor& bytes);
// The module's archive as a 1-D uint8 tensor.
at::Tensor module_to_bytes(const torch::jit::Module& m);

}  // namespace xbar
