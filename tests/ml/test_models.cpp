// Zoo models: shapes, graph form expected by the conversion pass, save/load, KV-cache decode,
// and a short training run.
#include "tests/ml/torch_doctest.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <unistd.h>

#include "common/error.h"
#include "ml/train.h"
#include "ml/zoo.h"

using namespace xbar;
namespace fs = std::filesystem;

namespace {

const std::string kChars = "\n abcdefghijklmnopqrstuvwxyz.";  // a small GPT vocabulary for tests

models::GptConfig small_gpt() {
  models::GptConfig c;
  c.vocab_chars = kChars;
  c.context = 32;
  c.dim = 32;
  c.heads = 4;
  c.layers = 2;
  c.mlp = 64;
  return c;
}

std::string temp_file(const std::string& name) {
  return (fs::temp_directory_path() / ("xbar_test_models_" + std::to_string(::getpid()) + "_" + name)).string();
}

// Node kinds of the inlined forward graph (what the conversion pass sees).
std::map<std::string, int> op_counts(const torch::jit::Module& m) {
  auto g = m.get_method("forward").graph()->copy();
  torch::jit::Inline(*g);
  std::map<std::string, int> n;
  for (const auto* node : g->nodes()) ++n[node->kind().toQualString()];
  return n;
}

at::Tensor images(int64_t b) { return at::randn({b, 1, 28, 28}, at::detail::getDefaultCPUGenerator()); }

}  // namespace

TEST_CASE("classifiers: output shapes, parameter names and graph ops") {
  at::manual_seed(3);
  const auto x = images(5);
  struct Want {
    std::string name;
    int64_t params;
    int linear, conv, matmul;
    std::string a_weight;
  };
  // Parameter counts: mlp 784*256+256 + 256*128+128 + 128*10+10; cnn 16*9+16 + 32*16*9+32 +
  // 1568*128+128 + 128*10+10; vit see make_vit.
  for (const Want& w : {Want{"mlp", 235146, 3, 0, 0, "fc2.weight"}, Want{"cnn", 206922, 2, 2, 0, "conv2.weight"},
                        Want{"vit", 71946, 10, 0, 4, "blocks.1.attn.qkv.weight"}}) {
    CAPTURE(w.name);
    auto m = models::make_model(w.name, 1);
    CHECK(models::parameter_count(m) == w.params);
    CHECK(m.forward({x}).toTensor().sizes() == at::IntArrayRef({5, 10}));
    bool found = false;
    for (const auto& p : m.named_parameters()) found |= p.name == w.a_weight;
    CHECK(found);
    auto ops = op_counts(m);
    CHECK(ops["aten::linear"] == w.linear);
    CHECK(ops["aten::conv2d"] == w.conv);
    CHECK(ops["aten::matmul"] == w.matmul);
    CHECK(m.attr("xbar_task").toStringRef() == "fashion-mnist");
  }
  CHECK_THROWS_AS(models::make_model("resnet", 1), Error);
}

TEST_CASE("initialisation is a function of the seed") {
  auto a = models::make_vit(5), b = models::make_vit(5), c = models::make_vit(6);
  auto pa = a.named_parameters(), pb = b.named_parameters(), pc = c.named_parameters();
  const auto ia = pa.begin();
  CHECK((*ia).name == "patch_embed.weight");
  for (auto i = pa.begin(), j = pb.begin(), k = pc.begin(); i != pa.end(); ++i, ++j, ++k) {
    CAPTURE((*i).name);
    CHECK((*i).value.equal((*j).value));
    if ((*i).value.std().item<double>() > 0) CHECK(!(*i).value.equal((*k).value));  // LayerNorm ones/zeros aside
  }
}

TEST_CASE("save + load round trip reproduces outputs exactly") {
  at::manual_seed(4);
  const auto x = images(3);
  for (const std::string name : {"mlp", "cnn", "vit"}) {
    CAPTURE(name);
    auto m = models::make_model(name, 2);
    const std::string f = temp_file(name + ".pt");
    m.save(f);
    auto back = torch::jit::load(f);
    CHECK(back.forward({x}).toTensor().equal(m.forward({x}).toTensor()));
    fs::remove(f);
  }
  auto g = models::make_gpt(small_gpt(), 2);
  const std::string f = temp_file("gpt.pt");
  g.save(f);
  auto back = torch::jit::load(f);
  const auto idx = at::randint(int64_t(kChars.size()) + 1, {2, 9}, at::kLong);
  CHECK(back.forward({idx}).toTensor().equal(g.forward({idx}).toTensor()));
  CHECK(back.attr("vocab_chars").toStringRef() == kChars);
  CHECK(back.attr("context_len").toInt() == 32);
  fs::remove(f);
}

TEST_CASE("GPT: graph ops, causality and KV-cache decode equal to prefill") {
  auto g = models::make_gpt(small_gpt(), 7);
  auto ops = op_counts(g);
  CHECK(ops["aten::linear"] == 9);  // 2 layers x (qkv, proj, fc1, fc2) + lm_head
  CHECK(ops["aten::matmul"] == 4);  // 2 layers x (Q K^T, P V)
  at::manual_seed(5);
  const int64_t T = 20, V = int64_t(kChars.size()) + 1;
  const auto idx = at::randint(V, {2, T}, at::kLong);
  const auto full = g.forward({idx}).toTensor();
  CHECK(full.sizes() == at::IntArrayRef({2, T, V}));

  // Causal: changing the last token leaves every earlier position's logits unchanged.
  auto idx2 = idx.clone();
  idx2.select(1, T - 1).fill_(0);
  const auto full2 = g.forward({idx2}).toTensor();
  CHECK(full2.slice(1, 0, T - 1).equal(full.slice(1, 0, T - 1)));
  CHECK(!full2.select(1, T - 1).equal(full.select(1, T - 1)));

  // Prefill 8 tokens with decode, then one token at a time through the cache; every step's logits
  // equal the full forward's at that position within 1e-5 (float32 sums in another order).
  c10::impl::GenericList kc(c10::TensorType::get()), vc(c10::TensorType::get());
  auto out = g.get_method("decode")({idx.slice(1, 0, 8), kc, vc}).toTuple();
  double worst = (out->elements()[0].toTensor() - full.slice(1, 0, 8)).abs().max().item<double>();
  for (int64_t t = 8; t < T; ++t) {
    out = g.get_method("decode")({idx.slice(1, t, t + 1), out->elements()[1], out->elements()[2]}).toTuple();
    const auto step = out->elements()[0].toTensor();
    REQUIRE(step.sizes() == at::IntArrayRef({2, 1, V}));
    worst = std::max(worst, (step.select(1, 0) - full.select(1, t)).abs().max().item<double>());
  }
  const auto k0 = out->elements()[1].toTensorList().get(0);
  CHECK(k0.sizes() == at::IntArrayRef({2, 4, T, 8}));  // [batch, heads, cached tokens, head dim]
  CHECK(worst < 1e-5);
}

TEST_CASE("a saved GPT loads and decodes in /usr/bin/python3") {
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: /usr/bin/python3 has no torch");
    return;
  }
  auto g = models::make_gpt(small_gpt(), 8);
  const std::string f = temp_file("py_gpt.pt");
  g.save(f);
  const std::string py =
      "import torch, sys\n"
      "m = torch.jit.load(sys.argv[1])\n"
      "idx = torch.randint(0, 29, (1, 12))\n"
      "full = m(idx)\n"
      "logits, k, v = m.decode(idx[:, :11], [], [])\n"
      "last, k, v = m.decode(idx[:, 11:], k, v)\n"
      "assert getattr(m.blocks, \"0\").attn.qkv.weight.shape == (96, 32)\n"
      "sys.exit(0 if (last[:, 0] - full[:, 11]).abs().max() < 1e-5 else 1)\n";
  const std::string script = temp_file("check.py");
  std::ofstream(script) << py;
  CHECK(std::system(("/usr/bin/python3 " + script + " " + f).c_str()) == 0);
  fs::remove(f);
  fs::remove(script);
}

TEST_CASE("training: learning-rate schedule and baselines") {
  CHECK(models::lr_at(0, 1000, 1.0) == doctest::Approx(1.0 / 50));  // warm-up over 5% of steps
  CHECK(models::lr_at(49, 1000, 1.0) == doctest::Approx(1.0));
  CHECK(models::lr_at(999, 1000, 1.0) == doctest::Approx(0.1).epsilon(1e-4));
  // Unigram: add-one counts of {1,1,2,2} over 3 tokens are {1,3,3}/7; token 1 costs log2(7/3).
  const auto train = at::tensor({1, 1, 2, 2}, at::kLong), valid = at::tensor({1}, at::kLong);
  CHECK(models::unigram_bpc(train, valid, 3) == doctest::Approx(std::log2(7.0 / 3.0)).epsilon(1e-12));
}

TEST_CASE("training: loss decreases on a small subset (MLP, GPT)") {
  const auto train = data::load_images({}, "test");  // the smaller file; any labelled images do
  auto m = models::make_mlp(1);
  models::TrainOptions o;
  o.max_examples = 2048;
  o.batch = 64;
  o.max_steps = 60;
  o.progress = false;
  const auto r = models::train_classifier(m, train, "mlp", o);
  CHECK(r.steps == 60);
  CHECK(r.last_loss < 0.6 * r.first_loss);  // ~2.3 (chance) falls to ~0.8 in 60 steps
  const double acc = models::classifier_accuracy(m, train);
  CHECK(acc > 0.6);

  data::TextCorpus c;
  c.vocab.chars = kChars;
  std::string text;
  for (int i = 0; i < 200; ++i) text += "the quick brown fox jumps over the lazy dog.\n";
  c.train_tokens = c.vocab.encode(text);
  auto g = models::make_gpt(small_gpt(), 1);
  models::TrainOptions og;
  og.batch = 8;
  og.max_steps = 40;
  og.lr = 3e-3;
  og.progress = false;
  const double before = models::lm_bpc(g, c.train_tokens.slice(0, 0, 1025), 32);
  const auto rg = models::train_gpt(g, c, og);
  const double after = models::lm_bpc(g, c.train_tokens.slice(0, 0, 1025), 32);
  CHECK(rg.last_loss < rg.first_loss - 1.0);  // bits per character
  CHECK(after < before - 1.0);
}

TEST_CASE("accuracy refuses labels the model has no output for, instead of counting them wrong") {
  auto m = models::make_mlp(1);  // 10 outputs
  data::ImageSet s;
  s.images = at::zeros({4, 1, 28, 28});
  s.labels = at::tensor({0, 3, 12, 9}, at::kLong);
  CHECK_THROWS_WITH_AS(models::classifier_accuracy(m, s),
                       doctest::Contains("evaluated labels: label 12 but the model has 10 outputs"), InputError);
  s.labels = at::tensor({0, 3, 8, 9}, at::kLong);
  const double acc = models::classifier_accuracy(m, s);
  CHECK(acc >= 0.0);
  CHECK(acc <= 1.0);
}
