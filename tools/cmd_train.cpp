// xbar train: builds a zoo model (ml/zoo.h), trains it in float on its data set and saves the
// TorchScript file; prints test accuracy (classifiers) or validation bits per character (GPT).
#include <torch/script.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>

#include "common/error.h"
#include "ml/model_data.h"
#include "ml/train.h"
#include "torch/convert.h"
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
                       "warm-up, cosine decay to 10% of --lr; or --lr-schedule constant) and saves it. Classifiers (mlp, cnn,\n"
                       "cnn7k, vit) train on all training images of an IDX data set (--data; default Fashion-MNIST),\n"
                       "normalised with the mean and std of its training pixels (recorded in the model), and report\n"
                       "test accuracy; gpt trains on the fortunes corpus and reports validation bits per character next\n"
                       "to a unigram baseline. --init-only writes the untrained, seeded network (e.g. to train it from\n"
                       "scratch on the chip with --hwa). Hardware-aware retraining of a model on the chip: xbar train\n"
                       "--hwa (see xbar train --hwa --help). 0 = the model's default:\n" +
                           defaults_text());
  opt.add_options()("model", "mlp | cnn | cnn7k | vit | gpt", cxxopts::value<std::string>())(
      "out", "output TorchScript file (path)", cxxopts::value<std::string>())(
      "epochs", "passes over the training set (count; gpt: train_tokens / (batch * context) steps each; 0 = default)",
      cxxopts::value<int>()->default_value("0"))(
      "batch", "examples (gpt: windows of context characters) per step (count; 0 = default)",
      cxxopts::value<int64_t>()->default_value("0"))(
      "lr", "peak Adam learning rate (1; 0 = default)", cxxopts::value<double>()->default_value("0"))(
      "lr-schedule", "cosine (warm-up, cosine decay to 10% of --lr) or constant (--lr at every step)",
      cxxopts::value<std::string>()->default_value("cosine"))(
      "data", "classifiers: directory of IDX image data (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
      "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]; default $XBAR_FASHION_MNIST or "
      "/usr/share/datasets/fashion-mnist)", cxxopts::value<std::string>())(
      "seed", "seed of the initial weights and of data shuffling / window sampling (integer)",
      cxxopts::value<uint64_t>()->default_value("1"))(
      "threads", "intra-op threads of LibTorch (count)", cxxopts::value<int>()->default_value("2"))(
      "max-steps", "stop after this many optimizer steps (count; 0 = no cap)",
      cxxopts::value<int64_t>()->default_value("0"))(
      "init-only", "write the untrained model (weights drawn from --seed) and skip training and evaluation")(
      "no-progress", "no progress bar on stderr")("h,help", "show this help");
  const auto parsed = parse_or_help(opt, argc, argv,
                                    "\nData: --data, else $XBAR_FASHION_MNIST (default /usr/share/datasets/fashion-mnist); "
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
  o.schedule = parse_enum<models::LrSchedule>("--lr-schedule", res["lr-schedule"].as<std::string>());
  o.progress = !res.count("no-progress");
  if (o.epochs < 0 || o.batch < 0 || o.lr < 0 || o.max_steps < 0)
    throw Error("--epochs, --batch, --lr and --max-steps must be >= 0");
  const models::Hparams h = models::default_hparams(name);  // also rejects unknown names

  const bool lm = name == "gpt", init_only = res.count("init-only") > 0;
  if (lm && res.count("data")) throw ConfigError("--data", res["data"].as<std::string>(), "applies to the image classifiers, not gpt");
  data::TextCorpus corpus;
  data::ImageData images;
  if (res.count("data")) images.dir = res["data"].as<std::string>();
  data::ImageSet train_set, test_set;
  if (lm) corpus = data::load_fortunes();
  torch::jit::Module m = models::make_model(name, o.seed, corpus.vocab.chars);
  std::printf("model      %s (%lld parameters)\n", name.c_str(), (long long)models::parameter_count(m));
  if (!lm && (!init_only || res.count("data"))) {
    images.norm = data::normalisation_of(images.dir);
    record_image_data(m, images.name(), *images.norm);
    std::printf("data       %s (%s), normalised (x - %.4f) / %.4f\n", images.name().c_str(), images.dir.c_str(),
                images.norm->mean, images.norm->std);
  }
  if (!lm && !init_only) {
    train_set = data::load_images(images, "train"), test_set = data::load_images(images, "test");
    if (train_set.images.size(2) != 28 || train_set.images.size(3) != 28)
      throw InputError(images.dir + ": images are " + std::to_string(train_set.images.size(2)) + "x" +
                       std::to_string(train_set.images.size(3)) + "; the zoo's classifiers take 28x28");
    models::check_labels(train_set, 10, images.dir + " training labels");
    models::check_labels(test_set, 10, images.dir + " test labels");
  }

  if (!init_only) {
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
      std::printf("test acc   %.2f%% (%lld test images of %s)\n", 100 * acc, (long long)test_set.images.size(0),
                  images.name().c_str());
    }
  }
  const auto parent = std::filesystem::path(out).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  save_torchscript(m, out);
  std::printf("saved      %s (%.2f MB)\n", out.c_str(), double(std::filesystem::file_size(out)) / 1e6);
  return 0;
}

}  // namespace xbar::cli
