// Precision tuning (apps/tune.h): the loss bound's statistics against published t quantiles, a model
// with one deliberately fragile layer, kill + resume == uninterrupted, the written policy reproducing
// the search metric bit for bit, and clear errors for bad input.
#include "tests/ml/torch_doctest.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "apps/study.h"
#include "apps/tune.h"
#include "apps/tune_output.h"
#include "apps/tune_stats.h"
#include "ml/evaluate.h"
#include "ml/model_data.h"
#include "ml/text_corpus.h"
#include "ml/zoo.h"
#include "torch/convert.h"
#include "tests/apps/study_test_support.h"
#include "tests/tools/cli_run.h"

using namespace xbar;
using xbar::test::slurp, xbar::test::src, xbar::test::tmpdir;

namespace {

// The zoo MLP with a large common offset added to every weight of its last layer: every logit gains
// the same 0.6 * sum(h), so the float argmax is unchanged, but the offset dominates each column's
// signal and weight scale, leaving the class-specific part a few ADC codes. Measured with xbar eval
// (200 held-out images, chips 0-2, default policy): fc3 alone at 6 / 5 ADC bits loses ~4 / ~19
// points, fc1 or fc2 alone at 5 bits less than 1.
std::string fragile_model() {
  const std::string p = tmpdir() + "/fragile_mlp.pt";
  if (std::filesystem::exists(p)) return p;
  torch::jit::Module m = torch::jit::load(src("data/models/mlp.pt"));
  {
    torch::NoGradGuard g;
    m.attr("fc3").toModule().attr("weight").toTensor().add_(0.6);
  }
  m.save(p + ".tmp");
  std::filesystem::rename(p + ".tmp", p);
  return p;
}

TuneSpec small_spec(const std::string& out) {
  TuneSpec s;
  s.model = fragile_model();
  s.policy = src("data/policies/default.toml");
  s.task = Task::fashion_mnist;
  s.max_loss = {2.0};
  s.knobs = {"adc.bits"};
  s.min_bits = 5;
  s.chips = 3;
  s.final_chips = 2;
  s.samples = 200;
  s.test_samples = 200;
  s.calibration.samples = 64;
  s.compare_uniform = false;
  s.out = tmpdir() + "/" + out;
  std::filesystem::remove_all(s.out);
  return s;
}

// An untrained one-block character GPT (context 32, dim 32) on the fortunes vocabulary: prefill
// and decode methods, a few ms per window.
std::string tiny_gpt() {
  const std::string p = tmpdir() + "/tiny_gpt.pt";
  if (std::filesystem::exists(p)) return p;
  models::GptConfig c;
  c.vocab_chars = data::load_fortunes().vocab.chars;
  c.context = 32;
  c.dim = 32;
  c.heads = 2;
  c.layers = 1;
  c.mlp = 64;
  models::make_gpt(c, 3).save(p + ".tmp");
  std::filesystem::rename(p + ".tmp", p);
  return p;
}

// The value after `key ` on the line of `chip N` in xbar eval's output (-1 when absent).
double eval_value(const std::string& out, int chip, const std::string& key) {
  std::istringstream ls(out);
  for (std::string l; std::getline(ls, l);)
    if (l.rfind("chip " + std::to_string(chip) + " ", 0) == 0 && l.find(key + " ") != std::string::npos)
      return std::stod(l.substr(l.find(key + " ") + key.size() + 1));
  return -1;
}

TuneOptions quiet() {
  TuneOptions o;
  o.progress = false;
  return o;
}

}  // namespace

TEST_CASE("tune: one-sided t quantiles match published values, the bound is mean + t sd / sqrt(n)") {
  // Table values (df <= 30) and the expansion above, against Student t tables (4 digits).
  CHECK(student_t_quantile(0.95, 4) == doctest::Approx(2.132).epsilon(1e-4));
  CHECK(student_t_quantile(0.90, 2) == doctest::Approx(1.886).epsilon(1e-4));
  CHECK(student_t_quantile(0.99, 10) == doctest::Approx(2.764).epsilon(1e-4));
  CHECK(student_t_quantile(0.95, 40) == doctest::Approx(1.6839).epsilon(1e-3));
  CHECK(student_t_quantile(0.95, 120) == doctest::Approx(1.6577).epsilon(1e-3));
  CHECK(student_t_quantile(0.99, 60) == doctest::Approx(2.3901).epsilon(1e-3));
  // losses 1, 2, 3: mean 2, sd 1; bound 2 + 2.920 / sqrt(3).
  const PairedLoss l = paired_loss({1, 2, 3}, 0.95);
  CHECK(l.stats.mean == doctest::Approx(2.0).epsilon(1e-12));
  CHECK(l.upper == doctest::Approx(2.0 + 2.920 / std::sqrt(3.0)).epsilon(1e-12));
  CHECK_THROWS_AS(student_t_quantile(0.8, 3), ConfigError);
}

TEST_CASE("tune: the cheapest uniform setting passes only when every more precise one passes too") {
  // Two knobs (adc.bits, dac.bits); objective field 0 falls with the bits. upper: the loss bound.
  auto point = [](int adc, int dac, double upper) {
    UniformPoint p;
    p.values = {adc, dac};
    p.cheapness = {-adc, -dac};
    p.m.costs = {double(adc * 10 + dac), 0, 0, 0};
    p.loss.upper = upper;
    return p;
  };
  std::vector<UniformPoint> u = {point(8, 8, 0.0), point(8, 7, 0.1), point(7, 8, 0.2), point(7, 7, 0.3),
                                 point(7, 6, 0.9), point(6, 6, 0.4)};
  // (6,6) is within 0.5 but (7,6), more precise, is not: (6,6) passed by chance; (7,7) is the answer.
  const UniformPoint* c = cheapest_uniform(u, 0.5, 0);
  REQUIRE(c != nullptr);
  CHECK(c->values == std::vector<int>{7, 7});
  // With a budget every point meets, the cheapest point wins.
  c = cheapest_uniform(u, 1.0, 0);
  REQUIRE(c != nullptr);
  CHECK(c->values == std::vector<int>{6, 6});
  // A failing base (the most precise point) leaves nothing.
  u[0].loss.upper = 0.6;
  CHECK(cheapest_uniform(u, 0.5, 0) == nullptr);
}

TEST_CASE("tune: the fragile layer keeps more ADC bits, the policy reloads to the same metric bit for bit") {
  const TuneSpec s = small_spec("fragile");
  const TuneSummary r = run_tune(s, quiet());
  REQUIRE(r.finished);
  REQUIRE(r.layers.size() == 3);
  std::map<std::string, int> bits;
  for (const auto& l : r.layers) bits[l.name] = l.chosen.at(0);
  MESSAGE("schedule: " << r.schedule);
  CHECK(bits.at("fc3") > bits.at("fc1"));
  CHECK(bits.at("fc3") > bits.at("fc2"));
  // Sensitivity: two bits below base the fragile layer loses more than the budget, the others less.
  REQUIRE(r.layers[2].sensitivity[0].size() >= 2);
  CHECK(r.layers[2].sensitivity[0][1] > 2.0);
  for (int u : {0, 1})
    for (double v : r.layers[size_t(u)].sensitivity[0]) CHECK(v < 2.0);
  // The tuned layers save energy against the base.
  CHECK(r.layers[0].objective_tuned < r.layers[0].objective_base);
  // Reload: the written policy, evaluated as every other command does (study points, xbar rerun),
  // gives the search's metric on every search chip exactly.
  const Policy p = load_policy(s.out + "/policy.toml");
  const EvalData d = load_validation_data(s.task, s.samples, 0, s.calibration,
                                          image_data_for(torch::jit::load(s.model), data::default_image_dir()));
  REQUIRE(r.search_metric.size() == size_t(s.chips));
  for (int c = 0; c < s.chips; ++c) CHECK(evaluate_point(s.model, p, c, d).metric == r.search_metric[size_t(c)]);
  const std::string rep = slurp(s.out + "/report");
  CHECK(rep.find("fc3") != std::string::npos);
  CHECK(rep.find("re-measurement (test split, fresh chips)") != std::string::npos);
  const std::string csv = slurp(s.out + "/pareto.csv");
  CHECK(csv.find("tuned,X=2,2,") != std::string::npos);
  CHECK(csv.find("\nbase,base,0,") != std::string::npos);
  // One phase: the decode_metric column stays empty.
  const size_t base_row = csv.find("\nbase,base,0,");
  CHECK(csv.substr(base_row, csv.find('\n', base_row + 1) - base_row).find(",,0,0,") != std::string::npos);
}

TEST_CASE("tune: a search stopped mid-way (and a log cut mid-line) resumes to the uninterrupted schedule") {
  const TuneSpec whole = small_spec("whole");
  const TuneSummary a = run_tune(whole, quiet());
  REQUIRE(a.finished);
  const TuneSpec s = small_spec("resumed");
  TuneOptions stop = quiet();
  stop.stop_after = 3;
  CHECK_FALSE(run_tune(s, stop).finished);
  CHECK_FALSE(std::filesystem::exists(s.out + "/policy.toml"));
  std::ofstream(s.out + "/log.csv", std::ios::app) << "val,0,91.5,12";  // a kill in the middle of a line
  const TuneSummary b = run_tune(s, quiet());
  REQUIRE(b.finished);
  CHECK(b.schedule == a.schedule);
  CHECK(b.search_metric == a.search_metric);
  // Same policy apart from the output directory in the header comment.
  auto body = [](const std::string& t) { return t.substr(t.find('\n')); };
  CHECK(body(slurp(s.out + "/policy.toml")) == body(slurp(whole.out + "/policy.toml")));
  // A log of another setup is refused, not mixed in.
  TuneSpec other = s;
  other.samples = 100;
  CHECK_THROWS_WITH_AS(run_tune(other, quiet()), doctest::Contains("another setup"), FileError);
}

TEST_CASE("tune: bad input fails with errors naming the option") {
  TuneSpec s = small_spec("bad");
  s.knobs = {"adc.bitz"};
  CHECK_THROWS_WITH_AS(run_tune(s, quiet()), doctest::Contains("adc.bitz"), ConfigError);
  s = small_spec("bad");
  s.max_loss = {-0.5};
  CHECK_THROWS_WITH_AS(run_tune(s, quiet()), doctest::Contains("--max-loss"), ConfigError);
  s = small_spec("bad");
  s.model = tmpdir() + "/no_such_model.pt";
  CHECK_THROWS_WITH_AS(run_tune(s, quiet()), doctest::Contains("no_such_model.pt"), FileError);
  s = small_spec("bad");
  s.chips = 1;
  CHECK_THROWS_WITH_AS(run_tune(s, quiet()), doctest::Contains("--chips"), ConfigError);
  s = small_spec("bad");
  s.confidence = 0.5;
  CHECK_THROWS_AS(run_tune(s, quiet()), ConfigError);
}

TEST_CASE("tune: a model with a decode method is tuned per phase; overrides carry the phase, xbar eval replays a fresh chip") {
  TuneSpec s = small_spec("phases");
  s.model = tiny_gpt();
  s.task = Task::text;
  s.max_loss = {50.0};  // percent of the base's bits per character: every step passes
  s.min_bits = 7;
  s.chips = 2;
  s.samples = 65;       // 2 windows of 32 characters, predicted by prefill and generated by decode
  s.test_samples = 65;
  s.calibration.samples = 8;
  const TuneSummary r = run_tune(s, quiet());
  REQUIRE(r.finished);
  // Every analog operator twice, once per phase, each lowered (the budget lets everything pass).
  std::map<std::string, int> per_phase;
  for (const auto& l : r.layers) {
    ++per_phase[l.phase];
    CHECK_MESSAGE(l.chosen[0] < l.base[0], l.name << " " << l.phase);
    CHECK_MESSAGE(l.objective_tuned < l.objective_base, l.name << " " << l.phase);  // priced per phase
  }
  CHECK(per_phase.size() == 2);
  CHECK(per_phase["prefill"] == per_phase["decode"]);
  CHECK(per_phase["prefill"] >= 6);  // q/k/v or qkv, proj, fc1, fc2, scores, context, lm_head
  const Policy p = load_policy(s.out + "/policy.toml");
  size_t decode_rules = 0;
  for (size_t i = p.rules.size() - r.layers.size(); i < p.rules.size(); ++i) {
    REQUIRE(p.rules[i].phase.has_value());
    decode_rules += *p.rules[i].phase == Phase::decode;
  }
  CHECK(decode_rules == r.layers.size() / 2);
  // The written policy, evaluated as the tuner does, reproduces both phases on every search chip.
  const EvalData d = load_validation_data(Task::text, s.samples, 0, s.calibration);
  REQUIRE(r.search_decode.size() == size_t(s.chips));
  for (int c = 0; c < s.chips; ++c) {
    torch::jit::Module m = load_torchscript(s.model);
    convert_module(m, p);
    program_chip(m, c);
    calibrate(m, d.calibration);
    CHECK(evaluate(m, d) == r.search_metric[size_t(c)]);
    CHECK(evaluate_decode(m, d, 2) == r.search_decode[size_t(c)]);
  }
  // pareto.csv carries both phases' search metrics for the tuned schedule (pareto.png: one panel each).
  auto mean = [](const std::vector<double>& v) { double t = 0; for (double x : v) t += x; return t / double(v.size()); };
  const std::string csv = slurp(s.out + "/pareto.csv");
  const size_t row = csv.find("\ntuned,");
  REQUIRE(row != std::string::npos);
  std::vector<std::string> f;
  std::stringstream line(csv.substr(row + 1, csv.find('\n', row + 1) - row - 1));
  for (std::string cell; std::getline(line, cell, ',');) f.push_back(cell);
  REQUIRE(f.size() == 10);  // kind,label,max_loss,metric,decode_metric,loss_mean,loss_upper,objective,objective_name,metric_name
  CHECK(f[9] == "bits_per_char");
  CHECK(std::stod(f[3]) == doctest::Approx(mean(r.search_metric)).epsilon(1e-9));
  CHECK(std::stod(f[4]) == doctest::Approx(mean(r.search_decode)).epsilon(1e-9));
  // The report's replay command for the fresh chips, run through the CLI for the first fresh chip
  // (printed with 3 decimals).
  const std::string rep = slurp(s.out + "/report");
  const size_t at = rep.find("xbar eval", rep.find("re-measurement on fresh chips"));
  REQUIRE(at != std::string::npos);
  std::string cmd = rep.substr(at + 5, rep.find('\n', at) - at - 5);  // "eval ..."
  const std::string repeats = "--repeats " + std::to_string(s.final_chips);
  REQUIRE(cmd.find(repeats) != std::string::npos);
  cmd.replace(cmd.find(repeats), repeats.size(), "--repeats 1");
  const test::Run e = test::run_xbar(cmd);
  REQUIRE_MESSAGE(e.code == 0, e.out);
  MESSAGE(cmd);
  CHECK(std::abs(eval_value(e.out, s.chips, "bits_per_char") - r.final_metric.at(0)) <= 5.01e-4);
  CHECK(std::abs(eval_value(e.out, s.chips, "windows)") - r.final_decode.at(0)) <= 5.01e-4);
}

TEST_CASE("tune: slice widths (dac.slice_bits, mapping.cell_bits) widen along their ladders, cut cost, reload bit for bit") {
  // Ladders from the closed form slices = ceil(magnitude bits / width): 7 input magnitude bits
  // (8-bit signed DAC) and 7 stored weight bits (8-bit differential weights).
  XbarConfig c = load_policy(src("data/policies/default.toml")).defaults;
  c.dac.slice_bits = 1;
  c.mapping.cell_bits = 2;
  CHECK(tune_knob_ladder("dac.slice_bits", c, 3) == std::vector<int>{1, 2, 3, 4, 0});  // 7, 4, 3, 2, 1 reads
  CHECK(tune_knob_ladder("mapping.cell_bits", c, 3) == std::vector<int>{2, 3, 4, 0});  // 4, 3, 2, 1 cells
  CHECK(tune_knob_ladder("adc.bits", c, 6) == std::vector<int>{8, 7, 6});
  c.dac.slice_bits = 0;
  CHECK(tune_knob_ladder("dac.slice_bits", c, 3) == std::vector<int>{0});  // one read already
  for (const std::string knob : {"dac.slice_bits", "mapping.cell_bits"}) {
    CAPTURE(knob);
    Policy base = load_policy(src("data/policies/default.toml"));
    base.defaults.dac.slice_bits = 4;  // 2 reads per input
    base.defaults.mapping.cell_bits = 4;  // 2 cells per weight
    TuneSpec s = small_spec("slices_" + knob);
    s.policy = s.out + ".toml";
    std::ofstream(s.policy) << policy_to_toml(base);
    s.model = src("data/models/cnn7k.pt");  // 7k weights: one tile per layer
    s.knobs = {knob};
    s.max_loss = {20.0};
    s.chips = 2;
    s.samples = 100;
    s.test_samples = 100;
    s.calibration.samples = 32;
    const TuneSummary r = run_tune(s, quiet());
    REQUIRE(r.finished);
    for (const auto& l : r.layers) {
      CHECK(l.base[0] == 4);
      CHECK(l.chosen[0] == 0);  // one read / one cell: the only cheaper value, within a 20-point budget
      CHECK(l.objective_tuned < l.objective_base);
    }
    const Policy p = load_policy(s.out + "/policy.toml");
    const EvalData d = load_validation_data(s.task, s.samples, 0, s.calibration,
                                            image_data_for(torch::jit::load(s.model), data::default_image_dir()));
    for (int chip = 0; chip < s.chips; ++chip)
      CHECK(evaluate_point(s.model, p, chip, d).metric == r.search_metric[size_t(chip)]);
  }
}

TEST_CASE("tune: adc.range and unknown knobs are refused naming the knob and the supported ones") {
  TuneSpec s = small_spec("range");
  s.knobs = {"adc.range"};
  std::string what;
  try {
    run_tune(s, quiet());
  } catch (const ConfigError& e) {
    what = e.what();
  }
  CHECK(what.find("adc.range") != std::string::npos);
  CHECK(what.find("mapping.cell_bits") != std::string::npos);
}
