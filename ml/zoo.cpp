#include "ml/zoo.h"

#include <cmath>

#include "common/error.h"
#include "ml/layers.h"
#include "ml/task.h"

namespace xbar::models {

namespace {

using torch::jit::Module;
using std::to_string;

void set_task(Module& m, Task task) {
  m.register_attribute("xbar_task", c10::StringType::get(), std::string(model_task_attribute(task)));
}

// Multi-head self-attention over [B, T, dim]; causal=true adds the KV cache arguments.
Module attention(Builder& b, const std::string& path, int64_t dim, int64_t heads, bool causal, double init_std) {
  Module m = b.module("Attention", path);
  m.register_module("qkv", b.linear(path + ".qkv", dim, 3 * dim, init_std));
  m.register_module("proj", b.linear(path + ".proj", dim, dim, init_std));
  const std::string H = to_string(heads), HD = to_string(dim / heads), C = to_string(dim);
  const std::string scale = lit(1.0 / std::sqrt(double(dim / heads)));
  const std::string split =
      "    B = x.size(0)\n"
      "    T = x.size(1)\n"
      "    qkv = self.qkv.forward(x).reshape([B, T, 3, " + H + ", " + HD + "]).permute([2, 0, 3, 1, 4])\n"
      "    q = qkv[0]\n";
  const std::string merge =
      "    y = torch.matmul(torch.softmax(scores, -1), v)\n"
      "    y = y.transpose(1, 2).reshape([B, T, " + C + "])\n";
  if (!causal) {
    m.define("def forward(self, x):\n" + split +
             "    k = qkv[1]\n"
             "    v = qkv[2]\n"
             "    scores = torch.matmul(q, k.transpose(-2, -1)) * " + scale + "\n" + merge +
             "    return self.proj.forward(y)\n");
  } else {
    m.define("def forward(self, x: Tensor, k_cache: Tensor, v_cache: Tensor) -> Tuple[Tensor, Tensor, Tensor]:\n" +
             split +
             "    k = torch.cat([k_cache, qkv[1]], 2)\n"
             "    v = torch.cat([v_cache, qkv[2]], 2)\n"
             "    past = k_cache.size(2)\n"
             "    scores = torch.matmul(q, k.transpose(-2, -1)) * " + scale + "\n"
             "    mask = torch.ones([T, past + T], device=x.device).triu(past + 1) > 0.5\n"
             "    scores = scores.masked_fill(mask, float('-inf'))\n" + merge +
             "    return self.proj.forward(y), k, v\n");
  }
  return m;
}

Module mlp_block(Builder& b, const std::string& path, int64_t dim, int64_t hidden, double init_std) {
  Module m = b.module("Mlp", path);
  m.register_module("fc1", b.linear(path + ".fc1", dim, hidden, init_std));
  m.register_module("fc2", b.linear(path + ".fc2", hidden, dim, init_std));
  m.define("def forward(self, x):\n    return self.fc2.forward(torch.gelu(self.fc1.forward(x)))\n");
  return m;
}

// Pre-LN transformer block: x + attn(ln1(x)), then x + mlp(ln2(x)).
Module block(Builder& b, const std::string& path, int64_t dim, int64_t heads, int64_t hidden, bool causal,
             double init_std) {
  Module m = b.module("Block", path);
  m.register_module("ln1", b.layer_norm(path + ".ln1", dim));
  m.register_module("attn", attention(b, path + ".attn", dim, heads, causal, init_std));
  m.register_module("ln2", b.layer_norm(path + ".ln2", dim));
  m.register_module("mlp", mlp_block(b, path + ".mlp", dim, hidden, init_std));
  if (!causal) {
    m.define("def forward(self, x):\n"
             "    x = x + self.attn.forward(self.ln1.forward(x))\n"
             "    return x + self.mlp.forward(self.ln2.forward(x))\n");
  } else {
    m.define("def forward(self, x: Tensor, k_cache: Tensor, v_cache: Tensor) -> Tuple[Tensor, Tensor, Tensor]:\n"
             "    a, k, v = self.attn.forward(self.ln1.forward(x), k_cache, v_cache)\n"
             "    x = x + a\n"
             "    return x + self.mlp.forward(self.ln2.forward(x)), k, v\n");
  }
  return m;
}

// "blocks" holds "0", "1", ... (module paths blocks.0.attn.qkv like nn.ModuleList).
Module blocks(Builder& b, int64_t n, int64_t dim, int64_t heads, int64_t hidden, bool causal, double init_std) {
  Module m = b.module("Blocks", "blocks");
  for (int64_t i = 0; i < n; ++i)
    m.register_module(to_string(i), block(b, "blocks." + to_string(i), dim, heads, hidden, causal, init_std));
  return m;
}

// One layer of a small classifier: a linear layer (kernel 0) or a square conv2d.
struct LayerSpec {
  const char* name;
  int64_t in, out, kernel = 0, stride = 1, pad = 0;
};

// A Fashion-MNIST classifier: the layers are built in the order given (the order in which the
// Builder draws their initial weights), then forward(self, x) is defined from its body.
Module classifier(const std::string& zoo_name, const std::string& type, uint64_t seed,
                  const std::vector<LayerSpec>& layers, const std::string& forward_body) {
  Builder b(zoo_name, seed);
  Module m = b.module(type, "");
  for (const auto& l : layers)
    m.register_module(l.name, l.kernel == 0 ? b.linear(l.name, l.in, l.out)
                                            : b.conv2d(l.name, l.in, l.out, l.kernel, l.stride, l.pad));
  set_task(m, Task::fashion_mnist);
  m.define("def forward(self, x):\n" + forward_body);
  return m;
}

}  // namespace

Module make_mlp(uint64_t seed) {
  return classifier("mlp", "Mlp", seed, {{"fc1", 784, 256}, {"fc2", 256, 128}, {"fc3", 128, 10}},
                    "    x = torch.flatten(x, 1)\n"
                    "    x = torch.relu(self.fc1.forward(x))\n"
                    "    x = torch.relu(self.fc2.forward(x))\n"
                    "    return self.fc3.forward(x)\n");
}

Module make_cnn(uint64_t seed) {
  return classifier("cnn", "Cnn", seed,
                    {{"conv1", 1, 16, 3, 1, 1}, {"conv2", 16, 32, 3, 1, 1}, {"fc1", 32 * 7 * 7, 128}, {"fc2", 128, 10}},
                    "    x = torch.max_pool2d(torch.relu(self.conv1.forward(x)), [2, 2])\n"
                    "    x = torch.max_pool2d(torch.relu(self.conv2.forward(x)), [2, 2])\n"
                    "    x = torch.flatten(x, 1)\n"
                    "    return self.fc2.forward(torch.relu(self.fc1.forward(x)))\n");
}

Module make_cnn7k(uint64_t seed) {
  return classifier("cnn7k", "Cnn7k", seed,
                    {{"conv1", 1, 8, 3, 2, 0},  // 28 -> 13
                     {"conv2", 8, 16, 3, 2, 0},  // 13 -> 6
                     {"fc", 16 * 6 * 6, 10}},
                    "    x = torch.relu(self.conv1.forward(x))\n"
                    "    x = torch.relu(self.conv2.forward(x))\n"
                    "    return self.fc.forward(torch.flatten(x, 1))\n");
}

Module make_vit(uint64_t seed) {
  const int64_t dim = 64, heads = 4, hidden = 128, depth = 2;
  Builder b("vit", seed);
  Module m = b.module("Vit", "");
  m.register_module("patch_embed", b.linear("patch_embed", 49, dim));
  m.register_parameter("pos_emb", b.normal({1, 16, dim}, 0.02), false);
  m.register_module("blocks", blocks(b, depth, dim, heads, hidden, false, 0.0));
  m.register_module("norm", b.layer_norm("norm", dim));
  m.register_module("head", b.linear("head", dim, 10));
  set_task(m, Task::fashion_mnist);
  std::string src =
      "def forward(self, x):\n"
      "    B = x.size(0)\n"
      "    p = x.reshape([B, 4, 7, 4, 7]).permute([0, 1, 3, 2, 4]).reshape([B, 16, 49])\n"
      "    h = self.patch_embed.forward(p) + self.pos_emb\n";
  for (int64_t i = 0; i < depth; ++i) src += "    h = getattr(self.blocks, \"" + to_string(i) + "\").forward(h)\n";
  src += "    return self.head.forward(self.norm.forward(h).mean(1))\n";
  m.define(src);
  return m;
}

Module make_gpt(const GptConfig& c, uint64_t seed) {
  if (c.vocab_chars.empty()) throw Error("make_gpt: empty vocabulary");
  if (c.dim % c.heads) throw Error("make_gpt: dim " + to_string(c.dim) + " not divisible by heads " + to_string(c.heads));
  const int64_t vocab = int64_t(c.vocab_chars.size()) + 1;
  const double init_std = 0.02;
  Builder b("gpt", seed);
  Module m = b.module("Gpt", "");
  m.register_module("tok_emb", b.embedding("tok_emb", vocab, c.dim, init_std));
  m.register_module("pos_emb", b.embedding("pos_emb", c.context, c.dim, init_std));
  m.register_module("blocks", blocks(b, c.layers, c.dim, c.heads, c.mlp, true, init_std));
  m.register_module("ln_f", b.layer_norm("ln_f", c.dim));
  m.register_module("lm_head", b.linear("lm_head", c.dim, vocab, init_std));
  set_task(m, Task::text);
  m.register_attribute("vocab_chars", c10::StringType::get(), c.vocab_chars);
  m.register_attribute("context_len", c10::IntType::get(), c.context);
  const std::string L = to_string(c.layers), H = to_string(c.heads), HD = to_string(c.dim / c.heads);
  std::string src =
      "def decode(self, idx: Tensor, k_cache: List[Tensor], v_cache: List[Tensor]) -> Tuple[Tensor, List[Tensor], List[Tensor]]:\n"
      "    B = idx.size(0)\n"
      "    T = idx.size(1)\n"
      "    past = 0\n"
      "    if len(k_cache) > 0:\n"
      "        past = k_cache[0].size(2)\n"
      "    pos = torch.arange(past, past + T, device=idx.device)\n"
      "    x = self.tok_emb.forward(idx) + self.pos_emb.forward(pos)\n"
      "    kc: List[Tensor] = []\n"
      "    vc: List[Tensor] = []\n"
      "    for i in range(" + L + "):\n"
      "        if len(k_cache) > 0:\n"
      "            kc.append(k_cache[i])\n"
      "            vc.append(v_cache[i])\n"
      "        else:\n"
      "            kc.append(torch.zeros([B, " + H + ", 0, " + HD + "], dtype=x.dtype, device=x.device))\n"
      "            vc.append(torch.zeros([B, " + H + ", 0, " + HD + "], dtype=x.dtype, device=x.device))\n"
      "    ks: List[Tensor] = []\n"
      "    vs: List[Tensor] = []\n";
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string I = to_string(i);
    src += "    x, k, v = getattr(self.blocks, \"" + I + "\").forward(x, kc[" + I + "], vc[" + I + "])\n"
           "    ks.append(k)\n"
           "    vs.append(v)\n";
  }
  src += "    return self.lm_head.forward(self.ln_f.forward(x)), ks, vs\n"
         "\n"
         "def forward(self, idx):\n"
         "    return self.decode(idx, [], [])[0]\n";
  m.define(src);
  return m;
}

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> n = {"mlp", "cnn", "cnn7k", "vit", "gpt"};
  return n;
}

Module make_model(const std::string& name, uint64_t seed, const std::string& vocab_chars) {
  if (name == "mlp") return make_mlp(seed);
  if (name == "cnn") return make_cnn(seed);
  if (name == "cnn7k") return make_cnn7k(seed);
  if (name == "vit") return make_vit(seed);
  if (name == "gpt") {
    GptConfig c;
    c.vocab_chars = vocab_chars;
    return make_gpt(c, seed);
  }
  throw Error("unknown model '" + name + "' (expected mlp, cnn, cnn7k, vit or gpt)");
}

int64_t parameter_count(const torch::jit::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace xbar::models
