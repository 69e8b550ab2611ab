// xbar train: builds a zoo model (ml/zoo.h), trains it in float on its data set and saves the
// TorchScript file; prints test accuracy (classifiers) or validation bits per character (GPT).
#include <torch/script.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>

#include "common/error.h"
#include "ml/train.h"
#include "ml/zoo.h"
#include "cli_parse.h"
#include "commands.h"

namespace xbar::cli {

namespace {
std::string defaults_text() {
  std::string s = "defaults (epochs / batch / lr):";
  for (const auto& n : models::model_names()) {
    const models::Hparams h = models::default_hparams(n);
    char b[64];
    std::snprintf(b, sizeof b, " %s %d / %lld / %g%s", n.c_str(), h.epochs, (long long)h.batch, h.lr,
                  n == "gpt" ? "" : ",");
    s += b;
  }
  return s;
}
}  // namespace

int cmd_train(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--hwa") return cmd_train_hwa(argc, argv);
  cxxopts::Options opt("xbar train",
                       "Builds a model of the zoo (TorchScript, no Python), trains it in float with Adam (linear\n"
                       "warm-up, cosine decay to 10% of --lr) and saves it. Classifiers (mlp, cnn, cnn7k, vit) train on the\n"
                       "Fashion-MNIST training set and report test accuracy; gpt trains on the fortunes corpus and\n"
                       "reports validation bits per character next to a unigram baseline. Hardware-aware retraining of a\n"
                       "trained model on the chip: xbar train --hwa (see xbar train --hwa --help). 0 = the model's default:\n" +
                           defaults_text());
  opt.add_options()("model", "mlp | cnn | cnn7k | vit | gpt", cxxopts::value<std::string>())(
      "out", "output TorchScript file (path)", cxxopts::value<std::string>())(
      "epochs", "passes over the training set (count; gpt: train_tokens / (batch * context) steps each; 0 = default)",
      cxxopts::value<int>()->default_value("0"))(
      "batch", "examples (gpt: windows of context characters) per step (count; 0 = default)",
      cxxopts::value<int64_t>()->default_value("0"))(
      "lr", "peak Adam learning rate (1; 0 = default)", cxxopts::value<double>()->default_value("0"))(
      "seed", "seed of the initial weights and of data shuffling / window sampling (integer)",
      cxxopts::value<uint64_t>()->default_value("1"))(
      "threads", "intra-op threads of LibTorch (count)", cxxopts::value<int>()->default_value("2"))(
      "max-steps", "stop after this many optimizer steps (count; 0 = no cap)",
      cxxopts::value<int64_t>()->default_value("0"))(
      "init-only", "write the untrained (seeded) model and skip training and evaluation")(
      "no-progress", "no progress bar on stderr")("h,help", "show this help");
  const auto parsed = parse_or_help(opt, argc, argv,
                                    "\nData: $XBAR_FASHION_MNIST (default /usr/share/datasets/fashion-mnist), "
                                    "$XBAR_FORTUNES (default /usr/share/games/fortunes).\n");
  if (!parsed) return 0;
  const cxxopts::ParseResult& res = *parsed;
  require_options(res, opt, {"model", "out"});
  const std::string name = res["model"].as<std::string>(), out = res["out"].as<std::string>();
  const int threads = res["threads"].as<int>();
  if (threads < 1) throw Error("--threads " + std::to_string(threads) + ": must be >= 1");
  at::set_num_threads(threads);
  models::TrainOptions o;
  o.epochs = res["epochs"].as<int>();
  o.batch = res["batch"].as<int64_t>();
  o.lr = res["lr"].as<double>();
  o.seed = res["seed"].as<uint64_t>();
  o.max_steps = res["max-steps"].as<int64_t>();
  o.progress = !res.count("no-progress");
  if (o.epochs < 0 || o.batch < 0 || o.lr < 0 || o.max_steps < 0)
    throw Error("--epochs, --batch, --lr and --max-steps must be >= 0");
  const models::Hparams h = models::default_hparams(name);  // also rejects unknown names

  const bool lm = name == "gpt";
  data::TextCorpus corpus;
  data::FashionMnist train_set, test_set;
  if (lm) corpus = data::load_fortunes();
  else if (!res.count("init-only")) train_set = data::load_fashion_mnist("train"), test_set = data::load_fashion_mnist("test");
  torch::jit::Module m = models::make_model(name, o.seed, corpus.vocab.chars);
  std::printf("model      %s (%lld parameters)\n", name.c_str(), (long long)models::parameter_count(m));

  if (!res.count("init-only")) {
    const models::TrainResult r = lm ? models::train_gpt(m, corpus, o) : models::train_classifier(m, train_set, name, o);
    std::printf("train      %d epochs, batch %lld, lr %g, seed %llu, %d threads: %lld steps in %.1f s\n",
                o.epochs ? o.epochs : h.epochs, (long long)(o.batch ? o.batch : h.batch), o.lr > 0 ? o.lr : h.lr,
                (unsigned long long)o.seed, threads, (long long)r.steps, r.seconds);
    std::printf("loss       %.4f -> %.4f%s (mean of first / last 5%% of steps)\n", r.first_loss, r.last_loss,
                lm ? " bit/char" : "");
    if (lm) {
      const int64_t ctx = m.attr("context_len").toInt();
      const double bpc = models::lm_bpc(m, corpus.valid_tokens, ctx);
      const double uni = models::unigram_bpc(corpus.train_tokens, corpus.valid_tokens, corpus.vocab.size());
      std::printf("valid bpc  %.4f bit/char (%lld validation characters, windows of %lld)\n", bpc,
                  (long long)corpus.valid_tokens.numel(), (long long)ctx);
      std::printf("unigram    %.4f bit/char (character frequencies of the training text)\n", uni);
    } else {
      const double acc = models::classifier_accuracy(m, test_set);
      std::printf("test acc   %.2f%% (%lld Fashion-MNIST test images)\n", 100 * acc, (long long)test_set.images.size(0));
    }
  }
  const auto parent = std::filesystem::path(out).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  try {
    m.save(out);
  } catch (const std::exception& e) {
    throw FileError(out + ": cannot save model: " + e.what());
  }
  std::printf("saved      %s (%.2f MB)\n", out.c_str(), double(std::filesystem::file_size(out)) / 1e6);
  return 0;
}

}  // namespace xbar::cli
