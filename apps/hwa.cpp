#include "apps/hwa.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/optim/adam.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/sha256.h"
#include "common/progress.h"
#include "common/stats.h"
#include "ml/train.h"
#include "ml/evaluate.h"
#include "ml/model_data.h"
#include "torch/calibrate.h"
#include "apps/hwa_data.h"
#include "apps/study_spec.h"
#include "torch/convert.h"

namespace xbar {

namespace fs = std::filesystem;

namespace {

struct Policies {
  Policy eval;   // what the chip is evaluated with (the user's policy, device and --set)
  Policy train;  // the same at the training drift time, read noise optionally off
};

Policies make_policies(const HwaOptions& o) {
  Policies p;
  if (!o.policy.empty()) p.eval = load_policy(o.policy);
  XbarConfig& base = p.eval.defaults;
  if (!o.device.empty()) {
    base.device.model = DeviceKind::file;
    base.device.file = o.device;
  }
  for (const auto& kv : o.set) set_assignment(base, kv);
  base.validate();
  p.train = hwa_training_policy(p.eval, o.t_train_s, o.read_noise);
  return p;
}

void check_options(const HwaOptions& o) {
  if (o.model.empty()) throw ConfigError("--model", "\"\"", "a float TorchScript model is required");
  if (o.out.empty()) throw ConfigError("--out", "\"\"", "an output directory is required");
  if (o.epochs < 1) throw ConfigError("--epochs", std::to_string(o.epochs), "must be >= 1");
  if (o.batch < 1) throw ConfigError("--batch", std::to_string(o.batch), "must be >= 1");
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw ConfigError("--lr", format_double(o.lr), "must be finite and > 0");
  if (!(o.range_lr >= 0) || !std::isfinite(o.range_lr))
    throw ConfigError("--range-lr", format_double(o.range_lr), "must be finite and >= 0");
  if (o.clip != WeightClip::none && (!(o.clip_value > 0) || !std::isfinite(o.clip_value)))
    throw ConfigError("--clip-value", format_double(o.clip_value), "must be finite and > 0");
  if (o.eval_chips < 1) throw ConfigError("--eval-chips", std::to_string(o.eval_chips), "must be >= 1");
  if (o.eval_samples < 0 || o.test_samples < 0 || o.max_examples < 0 || o.stop_after_epochs < 0)
    throw ConfigError("--eval-samples/--test-samples/--max-examples/--stop-after-epochs", "negative", "must be >= 0");
}

struct Exported {
  torch::jit::Module plain, analog;
  Policy policy;
};

// The trained weights in the float model and its converted twin. A classifier records the data it
// was retrained on (--data may differ from what the input model records) and the normalisation its
// inputs were given in training.
Exported export_models(const HwaOptions& o, torch::jit::Module& m, const Policy& eval, const HwaTrained& t,
                       const HwaData& hd) {
  Exported e{load_torchscript(o.model), load_torchscript(o.model), hwa_ranged_policy(eval, t.layers)};
  for (torch::jit::Module* x : {&e.plain, &e.analog}) {
    hwa_copy_params(named_params(m), *x);
    if (hd.task == Task::fashion_mnist) record_image_data(*x, hd.name, hd.norm);
  }
  convert_module(e.analog, e.policy);
  return e;
}

std::string fingerprint(const HwaOptions& o, const Policies& p) {
  std::ostringstream s;
  s << read_whole_file(o.model, "model") << "\n" << policy_to_toml(p.train) << "\n" << policy_to_toml(p.eval)
    << "\nepochs=" << o.epochs << " batch=" << o.batch << " lr=" << format_double(o.lr)
    << " range_lr=" << format_double(o.range_lr) << " schedule=" << enum_name(o.schedule) << " data=" << o.data
    << " seed=" << o.seed << " clip=" << enum_name(o.clip) << ":"
    << format_double(o.clip_value) << " learn_ranges=" << o.learn_ranges << " eval=" << o.eval_samples << "x"
    << o.eval_chips << " examples=" << o.max_examples;
  return sha256_hex(s.str());
}

std::string fmt17(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

// Keeps the header and the rows whose first column is below `limit` (drops what an interrupted
// run wrote after its last checkpoint); creates the file with `header` when absent.
void truncate_log(const std::string& path, const std::string& header, int64_t limit) {
  std::vector<std::string> keep = {header};
  std::ifstream f(path);
  std::string line;
  if (f && std::getline(f, line)) {
    while (std::getline(f, line)) {
      if (f.eof() && !line.empty()) break;  // a partial last line
      if (line.empty()) continue;
      if (std::stoll(line.substr(0, line.find(','))) < limit) keep.push_back(line);
    }
  }
  f.close();
  std::string text;
  for (const auto& l : keep) text += l + "\n";
  write_file_atomic(path, text);
}

struct Checkpoint {
  int epoch = 0;     // epochs finished
  int64_t step = 0;  // optimizer steps done
};

void save_checkpoint(const std::string& path, const std::string& fp, const Checkpoint& c, torch::jit::Module& m,
                     const HwaTrained& t, torch::optim::Adam& opt) {
  torch::serialize::OutputArchive a;
  a.write("fingerprint", c10::IValue(fp));
  a.write("epoch", c10::IValue(int64_t(c.epoch)));
  a.write("step", c10::IValue(c.step));
  std::vector<std::string> names;
  int64_t i = 0;
  for (const auto& p : m.named_parameters()) {
    names.push_back(p.name);
    a.write("p" + std::to_string(i++), p.value.detach());
  }
  a.write("param_names", c10::IValue(c10::List<std::string>(names)));
  for (size_t k = 0; k < t.layers.size(); ++k)
    if (t.layers[k]->input_range().defined()) a.write("r" + std::to_string(k), t.layers[k]->input_range().detach());
  torch::serialize::OutputArchive oa;
  opt.save(oa);
  a.write("optimizer", oa);
  std::ostringstream bytes;
  a.save_to(bytes);
  write_file_atomic(path, bytes.str());
}

// Reads the checkpoint into `a` and restores parameters and learned ranges from it; returns false
// when there is none. The optimizer state is read from `a` later: the optimizer can only be built
// once the ranges exist.
bool load_checkpoint(const std::string& path, const std::string& fp, Checkpoint& c, torch::jit::Module& m,
                     const HwaTrained& t, torch::serialize::InputArchive& a) {
  if (!fs::exists(path)) return false;
  try {
    a.load_from(path);
  } catch (const std::exception& e) {
    throw FileError(path + ": unreadable checkpoint (" + e.what() + "); delete it to start over");
  }
  c10::IValue v;
  a.read("fingerprint", v);
  if (v.toStringRef() != fp)
    throw FileError(path + ": checkpoint of a different training run (model, policy or options changed); "
                    "delete it or choose another --out");
  a.read("epoch", v);
  c.epoch = int(v.toInt());
  a.read("step", v);
  c.step = v.toInt();
  at::NoGradGuard ng;
  int64_t i = 0;
  for (const auto& p : m.named_parameters()) {
    at::Tensor x;
    a.read("p" + std::to_string(i++), x);
    p.value.copy_(x);
  }
  for (size_t k = 0; k < t.layers.size(); ++k) {
    at::Tensor r;
    if (a.try_read("r" + std::to_string(k), r)) t.layers[k]->set_input_range(r.item<double>());
  }
  return true;
}

void set_lrs(torch::optim::Adam& opt, const std::vector<double>& peak, double factor) {
  for (size_t g = 0; g < opt.param_groups().size(); ++g)
    static_cast<torch::optim::AdamOptions&>(opt.param_groups()[g].options()).lr(peak[g] * factor);
}

// The exported weights on `d`: read exactly, and on chips 0 .. eval_chips-1 (as xbar eval).
HwaMetric evaluate_exported(Exported& ex, const EvalData& d, int chips) {
  HwaMetric r;
  r.float_value = evaluate(ex.plain, d);
  Samples v;
  for (int k = 0; k < chips; ++k) {
    reset_model(ex.analog);
    program_chip(ex.analog, k);
    calibrate(ex.analog, d.calibration);
    v.add(evaluate(ex.analog, d));
  }
  const MeanStd ms = v.stats();
  r.chip_mean = ms.mean;
  r.chip_std = ms.sd;
  return r;
}

std::string metric_row(const HwaMetric& m) {
  return fmt17(m.float_value) + "," + fmt17(m.chip_mean) + "," + fmt17(m.chip_std);
}

}  // namespace

HwaResult train_hwa(const HwaOptions& o) {
  check_options(o);
  const Policies pol = make_policies(o);
  const std::string fp = fingerprint(o, pol);
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) throw FileError(o.out + ": cannot create the output directory (" + ec.message() + ")");
  const std::string ckpt = o.out + "/checkpoint.pt", log_path = o.out + "/train_log.csv",
                    ep_path = o.out + "/epochs.csv";

  torch::jit::Module m = load_torchscript(o.model);
  const HwaData hd = load_hwa_data(m, o.data, o.eval_samples, o.test_samples, o.max_examples);
  convert_module(m, pol.train);
  const HwaTrained t = hwa_trained(m);
  if (t.layers.empty()) throw Error(o.model + ": no analog linear/conv layer to train under policy " + pol.eval.source);

  const int64_t n = hd.examples;
  const int64_t per_epoch = (n + o.batch - 1) / o.batch, total = per_epoch * o.epochs;

  Checkpoint c;
  HwaResult res;
  res.metric = hd.valid.metric();
  res.data = hd.name;
  if (o.learn_ranges)
    for (const auto& l : t.layers) l->learn_input_range(true);
  torch::serialize::InputArchive archive;
  res.resumed = load_checkpoint(ckpt, fp, c, m, t, archive);
  if (o.learn_ranges && !res.resumed) {  // fresh: ranges from one noisy forward on the first batch
    at::NoGradGuard ng;
    reset_model(m);
    program_chip(m, hwa_train_chip(o.seed, 0));
    CalibrationMode cm(m);  // training data: calibrated ranges from the batch itself
    m.forward({hd.batch(hd.epoch_order(o.seed, 0), 0, o.batch).first});
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  std::vector<at::Tensor> weights;
  for (auto p : m.parameters()) weights.push_back(p.requires_grad_(true));
  groups.emplace_back(weights, std::make_unique<torch::optim::AdamOptions>(o.lr));
  std::vector<double> peak = {o.lr};
  if (o.learn_ranges) {
    groups.emplace_back(hwa_ranges(t.layers), std::make_unique<torch::optim::AdamOptions>(o.range_lr));
    peak.push_back(o.range_lr);
  }
  torch::optim::Adam opt(groups, torch::optim::AdamOptions(o.lr));
  if (res.resumed) {
    torch::serialize::InputArchive oa;
    archive.read("optimizer", oa);
    opt.load(oa);
  }
  truncate_log(log_path, "step,epoch,lr,loss", c.step);
  const std::string mt = res.metric;
  truncate_log(ep_path, "epoch,step,train_loss,valid_float_" + mt + ",valid_chip_" + mt + ",valid_chip_" + mt + "_std,seconds",
               c.epoch + 1);
  {
    std::ifstream f(ep_path);
    std::string line;
    std::getline(f, line);
    while (std::getline(f, line)) {
      HwaEpoch e;
      std::sscanf(line.c_str(), "%d,%lld,%lf,%lf,%lf,%lf", &e.epoch, reinterpret_cast<long long*>(&e.step),
                  &e.train_loss, &e.valid.float_value, &e.valid.chip_mean, &e.valid.chip_std);
      res.epochs.push_back(e);
    }
  }
  if (res.resumed) std::cerr << "resuming " << o.out << " after epoch " << c.epoch << " (step " << c.step << ")\n";

  std::ofstream log(log_path, std::ios::app), eplog(ep_path, std::ios::app);
  models::Progress bar("hwa", total, o.progress);
  int epochs_now = 0;
  while (c.epoch < o.epochs && (o.stop_after_epochs == 0 || epochs_now < o.stop_after_epochs)) {
    const at::Tensor order = hd.epoch_order(o.seed, c.epoch);
    m.train();
    double loss_sum = 0;
    int64_t steps = 0;
    for (int64_t b = 0; b < per_epoch; ++b, ++c.step, ++steps) {
      const auto [x, y] = hd.batch(order, b, o.batch);
      reset_model(m);  // a fresh chip every step: noise is a function of (seed, step) only
      program_chip(m, hwa_train_chip(o.seed, c.step));
      at::Tensor logits;
      {
        CalibrationMode cm(m);  // training batches calibrate the training chip's ranges
        logits = m.forward({x}).toTensor();
      }
      const at::Tensor loss = hd.loss(logits, y);
      const double lr_factor = models::lr_at(c.step, total, 1.0, o.schedule);
      set_lrs(opt, peak, lr_factor);
      opt.zero_grad();
      loss.backward();
      opt.step();
      hwa_constrain(t.weights, hwa_ranges(t.layers), o.clip, o.clip_value);
      const double lv = loss.item<double>() / (hd.task == Task::text ? std::log(2.0) : 1.0);  // text: bits/char
      if (!std::isfinite(lv)) throw Error("HWA training diverged at step " + std::to_string(c.step) + " (loss " + fmt17(lv) + "); lower --lr");
      loss_sum += lv;
      log << c.step << "," << c.epoch + 1 << "," << fmt17(o.lr * lr_factor) << "," << fmt17(lv) << "\n";
      log.flush();  // the curve on disk follows the run (a killed run is truncated to its checkpoint)
      char info[64];
      std::snprintf(info, sizeof info, "epoch %d/%d loss %.4f", c.epoch + 1, o.epochs, lv);
      bar.update(c.step + 1, info);
    }
    ++c.epoch;
    ++epochs_now;
    // Evaluate the weights as they are now, exactly (float) and on the evaluation chips, on the
    // held-out validation data.
    HwaEpoch e;
    e.epoch = c.epoch;
    e.step = c.step;
    e.train_loss = loss_sum / double(std::max<int64_t>(1, steps));
    {
      Exported ex = export_models(o, m, pol.eval, t, hd);
      e.valid = evaluate_exported(ex, hd.valid, o.eval_chips);
    }
    eplog << e.epoch << "," << e.step << "," << fmt17(e.train_loss) << "," << metric_row(e.valid) << ","
          << fmt17(bar.seconds()) << "\n";
    eplog.flush();
    res.epochs.push_back(e);
    save_checkpoint(ckpt, fp, c, m, t, opt);
    std::fprintf(stderr, "\nepoch %d: train loss %.4f, validation %s float %.3f, chip %.3f +- %.3f (%d chips)\n",
                 e.epoch, e.train_loss, mt.c_str(), e.valid.float_value, e.valid.chip_mean, e.valid.chip_std,
                 o.eval_chips);
  }
  bar.finish();
  if (c.epoch < o.epochs) return res;

  Exported ex = export_models(o, m, pol.eval, t, hd);
  res.test = evaluate_exported(ex, hd.test, o.eval_chips);  // the test data, once
  res.test_data = describe(hd.test, hd.task == Task::text ? "validation" : "test");
  write_file_atomic(o.out + "/test.csv", "data,float_" + mt + ",chip_" + mt + ",chip_" + mt + "_std,chips\n\"" +
                                            res.test_data + "\"," + metric_row(res.test) + "," +
                                            std::to_string(o.eval_chips) + "\n");
  reset_model(ex.analog);
  program_chip(ex.analog, 0);  // model_analog.pt: chip 0 with its calibrated ranges, if any
  calibrate(ex.analog, hd.test.calibration);
  save_torchscript(ex.plain, o.out + "/model.pt");
  save_torchscript(ex.analog, o.out + "/model_analog.pt");
  write_file_atomic(o.out + "/policy.toml",
                    "# " + (o.policy.empty() ? std::string("ideal policy") : o.policy) +
                        " as used for HWA training by xbar train --hwa, with the learned input ranges as static DAC "
                        "ranges.\n" + policy_to_toml(ex.policy));
  res.finished = true;
  return res;
}

}  // namespace xbar
