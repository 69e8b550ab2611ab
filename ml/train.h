// Float training of the zoo models with Adam on a TorchScript module's parameters, and their
// evaluation (test accuracy; validation bits per character against a unigram baseline).
#pragma once
#include <torch/script.h>

#include <cstdint>
#include <limits>
#include <string>

#include "common/enum_names.h"
#include "ml/image_data.h"
#include "ml/text_corpus.h"

namespace xbar::models {

// Learning rate over the steps: cosine (linear warm-up over the first 5% of steps, at most 200,
// then cosine decay to 10% of the peak) or constant (the peak at every step).
enum class LrSchedule { cosine, constant };

}  // namespace xbar::models

namespace xbar {
template <>
struct EnumNames<models::LrSchedule> {
  static constexpr EnumName<models::LrSchedule> table[] = {{models::LrSchedule::cosine, "cosine"},
                                                           {models::LrSchedule::constant, "constant"}};
};
}  // namespace xbar

namespace xbar::models {

struct TrainOptions {
  int epochs = 0;       // 0 = the model's default (default_hparams)
  int64_t batch = 0;    // 0 = default
  double lr = 0;        // peak learning rate; 0 = default
  LrSchedule schedule = LrSchedule::cosine;
  uint64_t seed = 1;    // shuffling / window sampling (init uses the model's own seed)
  int64_t max_steps = 0;     // stop after this many optimizer steps (0 = no cap)
  int64_t max_examples = 0;  // classifiers: train on the first N examples only (0 = all)
  bool progress = true;      // progress bar on stderr
};

struct Hparams {
  int epochs;
  int64_t batch;
  double lr;
};
Hparams default_hparams(const std::string& model);

struct TrainResult {
  int64_t steps = 0;
  double seconds = 0;     // training wall time
  double first_loss = 0;  // mean loss over the first 5% of steps (at least one)
  double last_loss = 0;   // mean loss over the last 5% of steps
};

// Learning rate at step s of n under the schedule.
double lr_at(int64_t s, int64_t n, double peak, LrSchedule schedule = LrSchedule::cosine);

// Classifier on [N,1,H,W] images, cross-entropy, reshuffled every epoch (torch::randperm seeded
// with opt.seed).
TrainResult train_classifier(torch::jit::Module& m, const data::ImageSet& train, const std::string& model,
                             const TrainOptions& opt);
double classifier_accuracy(torch::jit::Module& m, const data::ImageSet& test, int64_t batch = 1000);
// Error naming the data set when a label is outside the model's `classes` outputs.
void check_labels(const data::ImageSet& d, int64_t classes, const std::string& what);

// GPT on random windows of context_len + 1 training tokens (start offsets drawn with opt.seed);
// one "epoch" is train_tokens / (batch * context_len) steps.
TrainResult train_gpt(torch::jit::Module& m, const data::TextCorpus& c, const TrainOptions& opt);
// Mean cross-entropy in bits per character over consecutive non-overlapping windows of
// `context` targets (each predicted from the window's previous tokens; a shorter tail is dropped).
double lm_bpc(torch::jit::Module& m, const at::Tensor& tokens, int64_t context, int64_t batch = 64);
// Cross-entropy (bits/char) of `valid` under the add-one-smoothed character frequencies of `train`.
double unigram_bpc(const at::Tensor& train, const at::Tensor& valid, int64_t vocab);

}  // namespace xbar::models
