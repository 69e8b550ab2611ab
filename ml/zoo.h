// The model zoo: TorchScript modules built in C++ (see ml/layers.h), deterministic from a seed.
// Every weight product is aten::linear / aten::conv2d on a submodule's parameters; attention is
// written out as torch.matmul(q, k^T) and torch.matmul(softmax(scores), v) between activations.
//
// Each model carries string attribute `xbar_task` ("fashion-mnist" or "fortunes-char"); the GPT
// also `vocab_chars` (models/../ml/text_corpus.h Vocab::chars) and `context_len`.
#pragma once
#include <torch/script.h>

#include <cstdint>
#include <string>
#include <vector>

namespace xbar::models {

// Fashion-MNIST classifiers: input [B, 1, 28, 28] (normalised), output logits [B, 10].
torch::jit::Module make_mlp(uint64_t seed);  // flatten - 784-256 ReLU - 256-128 ReLU - 128-10
torch::jit::Module make_cnn(uint64_t seed);  // conv 1->16 3x3 ReLU pool2 - conv 16->32 3x3 ReLU pool2 - 1568-128 ReLU - 128-10
// The 7k-weight CNN of CrossSim's ISCA 2024 tutorial: conv 1->8 3x3 stride 2 ReLU - conv 8->16 3x3
// stride 2 ReLU - 576-10 (7,106 parameters).
torch::jit::Module make_cnn7k(uint64_t seed);
// 7x7 patches -> 16 tokens, dim 64, 2 pre-LN blocks (4 heads, MLP 64-128-64 GELU), mean pool, head.
torch::jit::Module make_vit(uint64_t seed);

struct GptConfig {
  std::string vocab_chars;  // token 0 = unknown, token i = vocab_chars[i - 1]
  int64_t context = 128;    // maximum positions (prefill length + cached tokens)
  int64_t dim = 96;
  int64_t heads = 4;
  int64_t layers = 2;
  int64_t mlp = 384;  // hidden width of each block's MLP
};
// Decoder-only character GPT (pre-LN, learned positions, causal attention):
//   forward(idx [B, T]) -> logits [B, T, vocab]  (prefill, T <= context)
//   decode(idx [B, T], k_cache, v_cache) -> (logits [B, T, vocab], k_cache', v_cache')
// with one [B, heads, past, dim/heads] key and value tensor per layer (empty lists start a
// sequence); the new tokens sit at positions past..past+T-1 and attend to all cached ones.
torch::jit::Module make_gpt(const GptConfig& cfg, uint64_t seed);

// "mlp", "cnn", "cnn7k", "vit" or "gpt" (the GPT needs vocab_chars); throws Error on another name.
torch::jit::Module make_model(const std::string& name, uint64_t seed, const std::string& vocab_chars = "");
const std::vector<std::string>& model_names();

int64_t parameter_count(const torch::jit::Module& m);

}  // namespace xbar::models
