// Precision tuning (apps/tune.h): the loss bound's statistics against published t quantiles, a model
// with one deliberately fragile layer, kill + resume == uninterrupted, the written policy reproducing
// the search metric bit for bit, and clear errors for bad input.
#include "tests/ml/torch_doctest.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "apps/study.h"
#include "apps/tune.h"
#include "apps/tune_stats.h"
#include "ml/evaluate.h"
#include "ml/model_data.h"
#include "torch/convert.h"
#include "tests/apps/study_test_support.h"

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
  CHECK(slurp(s.out + "/pareto.csv").find("tuned,X=2") != std::string::npos);
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
