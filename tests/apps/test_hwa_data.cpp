// Training, evaluation and hardware-aware retraining on an IDX data set given with --data (a small
// synthetic set, tests/ml/idx_test_data.h): the data set's own normalisation is recorded in the model
// and used by eval; HWA's epochs are evaluated on held-out training images, the test set once.
#include "tests/torch/torch_doctest.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>

#include "apps/hwa.h"
#include "apps/hwa_data.h"
#include "common/error.h"
#include "ml/image_data.h"
#include "ml/model_data.h"
#include "tests/ml/idx_test_data.h"
#include "tests/tools/cli_run.h"
#include "torch/convert.h"

using namespace xbar;
namespace fs = std::filesystem;

namespace {
std::string src(const std::string& rel) { return std::string(XBAR_SOURCE_DIR) + "/" + rel; }
fs::path tmp() {
  static const fs::path d = fs::temp_directory_path() / ("xbar_hwa_data_" + std::to_string(::getpid()));
  return d;
}
// The number after `key` in the CLI output (NaN when absent).
double number_after(const std::string& out, const std::string& key) {
  const size_t p = out.find(key);
  return p == std::string::npos ? std::nan("") : std::stod(out.substr(p + key.size()));
}
}  // namespace

TEST_CASE("--data: train, eval and HWA-retrain a classifier on a small IDX set; epochs see held-out data only") {
  const fs::path d = tmp() / "bars";
  fs::remove_all(tmp());
  test::write_idx_set(d, 1000, 200);
  // A second set with the same training files and every test label shifted by one class: a model
  // that learned the training data scores ~0% on its test set, so a high score identifies data
  // drawn from the training file.
  const fs::path shifted = tmp() / "bars_shifted";
  fs::create_directories(shifted);
  for (const char* f : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte.gz"})
    fs::copy_file(d / f, shifted / f);
  test::IdxBytes t = test::make_idx_bytes(200, 2);
  for (size_t i = 8; i < t.labels.size(); ++i) t.labels[i] = uint8_t((t.labels[i] + 1) % 10);
  test::write_bytes(shifted / "t10k-labels-idx1-ubyte.gz", t.labels, true);

  const std::string model = (tmp() / "m.pt").string();
  const test::Run tr = test::run_xbar("train --model cnn7k --epochs 4 --no-progress --data " + d.string() + " --out " + model);
  INFO(tr.out);
  REQUIRE(tr.code == 0);
  CHECK(tr.out.find("(200 test images of bars)") != std::string::npos);
  const double train_acc = number_after(tr.out, "test acc   ");
  CHECK(train_acc > 90.0);  // separable classes (measured: 100%)

  // The model records the data set and its normalisation (what normalisation_of computes).
  const torch::jit::Module m = load_torchscript(model);
  const data::Normalisation n = data::normalisation_of(d.string());
  REQUIRE(model_normalisation(m).has_value());
  CHECK(model_normalisation(m)->mean == n.mean);
  CHECK(model_normalisation(m)->std == n.std);
  CHECK(m.attr("xbar_data").toStringRef() == "bars");

  // eval reads the recorded normalisation: its float accuracy equals train's on the same images.
  const test::Run ev = test::run_xbar("eval --model " + model + " --repeats 1 --data " + d.string());
  INFO(ev.out);
  REQUIRE(ev.code == 0);
  CHECK(ev.out.find("data 200 test images of bars") != std::string::npos);
  CHECK(number_after(ev.out, "float accuracy_percent ") == doctest::Approx(train_acc).epsilon(1e-9));

  // sweep: the study's `data` key and --data (which overrides it) choose the images.
  auto study = [&](const std::string& name, const std::string& data_key) {
    const std::string p = (tmp() / (name + ".toml")).string();
    std::ofstream(p) << "[study]\nmodel = \"" << model << "\"\ntask = \"fashion_mnist\"\npolicy = \""
                     << src("data/policies/ideal.toml") << "\"\noutput = \"" << (tmp() / name).string()
                     << "\"\nrepeats = 1\n" << data_key << "[grid]\n\"adc.bits\" = [8]\n";
    return p;
  };
  // The metric column of the study's one row (index,repeat,adc.bits,metric,...).
  auto study_metric = [&](const std::string& name) {
    std::ifstream f(tmp() / (name + ".csv"));
    std::string line, last;
    while (std::getline(f, line)) last = line;
    size_t a = 0;
    for (int i = 0; i < 3; ++i) a = last.find(',', a) + 1;
    return std::stod(last.substr(a));
  };
  const std::string key = "data = \"" + shifted.string() + "\"\n";
  REQUIRE(test::run_xbar("sweep " + study("by_key", key)).code == 0);
  CHECK(study_metric("by_key") < 10.0);  // the shifted test labels
  REQUIRE(test::run_xbar("sweep " + study("by_option", key) + " --data " + d.string()).code == 0);
  CHECK(study_metric("by_option") == doctest::Approx(train_acc).epsilon(1e-9));

  // HWA on the shifted set: validation (held-out training images) high, test ~0%.
  HwaOptions o;
  o.model = model;
  o.data = shifted.string();
  o.policy = src("data/policies/pcm_adc6.toml");
  o.out = (tmp() / "hwa").string();
  o.epochs = 1;
  o.batch = 32;
  o.eval_samples = 0;
  o.eval_chips = 1;
  o.progress = false;
  const HwaResult r = train_hwa(o);
  REQUIRE(r.finished);
  REQUIRE(r.epochs.size() == 1);
  CHECK(r.data == "bars_shifted");
  CHECK(r.metric == "accuracy_percent");
  CHECK(r.epochs[0].valid.float_value > 90.0);
  CHECK(r.epochs[0].valid.chip_mean > 80.0);
  CHECK(r.test.float_value < 10.0);
  CHECK(r.test_data == "200 test images of bars_shifted");
  // 29 steps = ceil(900 / 32): the last 100 of the 1000 training images (10%) are held out.
  CHECK(r.epochs[0].step == 29);
  CHECK(fs::exists(o.out + "/test.csv"));
  // The exports name the data they were retrained on, with the normalisation training used (the
  // model's: the input model records bars' values).
  for (const char* f : {"/model.pt", "/model_analog.pt"}) {
    const torch::jit::Module e = load_torchscript(o.out + f);
    INFO(f);
    CHECK(e.attr("xbar_data").toStringRef() == "bars_shifted");
    CHECK(e.attr("xbar_input_mean").toDouble() == double(n.mean));
    CHECK(e.attr("xbar_input_std").toDouble() == double(n.std));
  }
  fs::remove_all(tmp());
}

TEST_CASE("--data errors name the file") {
  const fs::path d = tmp() / "empty";
  fs::create_directories(d);
  const test::Run r = test::run_xbar("eval --model " + src("data/models/cnn7k.pt") + " --data " + d.string());
  CHECK(r.code != 0);
  CHECK(r.out.find((d / "train-images-idx3-ubyte.gz").string() + ": file not found") != std::string::npos);
  fs::remove_all(tmp());
}

TEST_CASE("HWA's loss refuses a training label the model has no output for, naming the data set") {
  HwaData h;
  h.task = Task::fashion_mnist;
  h.name = "bars";
  const at::Tensor logits = at::zeros({2, 10});
  CHECK_THROWS_WITH_AS(h.loss(logits, at::tensor({1, 11}, at::kLong)),
                       doctest::Contains("bars training labels: label 11 but the model has 10 outputs"), InputError);
  // Within range: the cross-entropy of uniform logits, log(10).
  CHECK(h.loss(logits, at::tensor({1, 9}, at::kLong)).item<double>() == doctest::Approx(std::log(10.0)).epsilon(1e-6));
}
