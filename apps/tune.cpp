#include "apps/tune.h"

#include <omp.h>
#include <torch/script.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/progress.h"
#include "common/sha256.h"
#include "apps/tune_log.h"
#include "apps/tune_output.h"
#include "apps/tune_stats.h"
#include "ml/evaluate.h"
#include "ml/model_data.h"
#include "torch/convert.h"
#include "torch/model_cost.h"

namespace xbar {

const std::vector<std::string>& tune_knobs() {
  static const std::vector<std::string> k = {"adc.bits", "dac.bits", "mapping.weight_bits"};
  return k;
}

namespace {

struct Stopped {};  // stop_after reached

int int_key(const XbarConfig& c, const std::string& key) {
  for (const auto& a : config_assignments(c))
    if (a.key == key) return int(std::get<int64_t>(a.value));
  throw ConfigError("--knobs", key, "not a config key");
}

void validate(const TuneSpec& s) {
  if (s.model.empty()) throw ConfigError("--model", "", "a TorchScript model is required");
  if (!std::filesystem::exists(s.model)) throw FileError(s.model + ": model file not found");
  if (s.out.empty()) throw ConfigError("--out", "", "an output directory is required");
  if (s.max_loss.empty()) throw ConfigError("--max-loss", "", "at least one budget is required");
  for (double x : s.max_loss)
    if (!(x >= 0) || !std::isfinite(x)) {
      std::ostringstream t;
      t << x;
      throw ConfigError("--max-loss", t.str(), "must be a finite number >= 0");
    }
  if (s.knobs.empty()) throw ConfigError("--knobs", "", "at least one knob is required");
  std::set<std::string> seen;
  for (const auto& k : s.knobs) {
    if (std::find(tune_knobs().begin(), tune_knobs().end(), k) == tune_knobs().end()) {
      std::string names;
      for (const auto& n : tune_knobs()) names += (names.empty() ? "" : ", ") + n;
      throw ConfigError("--knobs", k, "unknown knob (supported: " + names + ")");
    }
    if (!seen.insert(k).second) throw ConfigError("--knobs", k, "listed twice");
  }
  if (s.min_bits < 1 || s.min_bits > 16) throw ConfigError("--min-bits", std::to_string(s.min_bits), "must be in 1..16");
  if (s.chips < 2) throw ConfigError("--chips", std::to_string(s.chips), "must be >= 2 (the loss bound needs a spread)");
  if (s.final_chips < 2) throw ConfigError("--final-chips", std::to_string(s.final_chips), "must be >= 2");
  if (s.samples < 0) throw ConfigError("--samples", std::to_string(s.samples), "must be >= 0");
  if (s.test_samples < 0) throw ConfigError("--test-samples", std::to_string(s.test_samples), "must be >= 0");
  student_t_quantile(s.confidence, 1);  // names a bad level
  if (s.task == Task::text && !s.data.empty()) throw ConfigError("--data", s.data, "applies to task fashion_mnist");
}

class Tuner {
 public:
  Tuner(const TuneSpec& s, const TuneOptions& o) : s_(s), o_(o) {
    base_ = s.policy.empty() ? Policy{} : load_policy(s.policy);
    hw_ = s.hardware.empty() ? Hardware{} : load_hardware(s.hardware);
    torch::jit::Module fm = load_torchscript(s.model);
    require_float_model(fm, s.model);
    torch::jit::Module cm = fm.clone();
    const ConvertReport rep = convert_module(cm, base_);
    std::set<std::pair<std::string, OpClass>> seen;
    for (const auto& op : rep.ops) {
      if (!op.converted || op.mode != OpMode::analog || !op.op_class) continue;
      if (!seen.insert({op.name, *op.op_class}).second) continue;
      TuneUnit u{op.name, *op.op_class, {}};
      const XbarConfig c = resolve(base_, op.name, *op.op_class, Phase::prefill).cfg;
      for (const auto& k : s.knobs) u.base.push_back(int_key(c, k));
      units_.push_back(u);
    }
    if (units_.empty()) throw InputError(s.model + ": no analog operator to tune under policy " + base_.source);
    data::ImageData images;
    if (s.task == Task::fashion_mnist) images = image_data_for(fm, s.data.empty() ? data::default_image_dir() : s.data);
    val_ = load_validation_data(s.task, s.samples, 0, s.calibration, images);
    test_ = load_eval_data(s.task, s.test_samples, 0, s.calibration, images);
    std::filesystem::create_directories(s.out);
    log_ = std::make_unique<TuneLog>(s.out + "/log.csv", fingerprint());
  }

  const std::vector<TuneUnit>& units() const { return units_; }
  const Policy& base_policy() const { return base_; }
  const EvalData& val() const { return val_; }
  bool higher_is_better() const { return s_.task != Task::text; }
  Schedule base_schedule() const {
    Schedule b;
    for (const auto& u : units_) b.push_back(u.base);
    return b;
  }

  // Candidate text, the log key: "name/op:knob=value ..." for every value differing from the base.
  std::string text(const Schedule& v) const {
    std::string t;
    for (size_t u = 0; u < units_.size(); ++u)
      for (size_t k = 0; k < s_.knobs.size(); ++k)
        if (v[u][k] != units_[u].base[k])
          t += (t.empty() ? "" : " ") + units_[u].name + "/" + enum_name(units_[u].op) + ":" + s_.knobs[k] + "=" +
               std::to_string(v[u][k]);
    return t.empty() ? "base" : t;
  }

  // The base policy plus one rule per layer whose settings differ from the base.
  Policy policy(const Schedule& v) const {
    Policy p = base_;
    for (size_t u = 0; u < units_.size(); ++u) {
      PolicyRule r;
      r.match = units_[u].name;
      r.op = units_[u].op;
      for (size_t k = 0; k < s_.knobs.size(); ++k)
        if (v[u][k] != units_[u].base[k]) r.assignments.push_back({s_.knobs[k], FieldValue(int64_t(v[u][k]))});
      if (!r.assignments.empty()) p.rules.push_back(r);
    }
    return p;
  }

  // Measures (or reads from the log) the schedule on `chips` consecutive chips from `first`.
  Measurement measure(const Schedule& v, bool test, int first, int chips) {
    const std::string split = test ? "test" : "val", cand = text(v);
    std::vector<int> missing;
    for (int c = first; c < first + chips; ++c)
      if (!log_->find(split, cand, c)) missing.push_back(c);
    if (!missing.empty()) {
      if (o_.stop_after > 0 && new_evals_ >= o_.stop_after) throw Stopped{};
      ++new_evals_;
      const EvalData& d = test ? test_ : val_;
      torch::jit::Module m = load_torchscript(s_.model);
      convert_module(m, policy(v));
      for (int c : missing) {
        program_chip(m, c);
        calibrate(m, d.calibration);
        const std::vector<LayerCounters> before = model_counters(m);
        TuneLogEntry e;
        e.metric = evaluate(m, d);
        e.costs = costs(m, model_cost_rows(m, hw_, before, double(eval_inferences(m, d))));
        log_->add(split, cand, c, e);
      }
    }
    ++done_;
    if (bar_) bar_->update(std::min(done_, total_ - 1), cand.size() > 40 ? cand.substr(0, 37) + "..." : cand);
    Measurement r;
    r.candidate = cand;
    const size_t n = (units_.size() + 1) * kCostFields;
    r.costs.assign(n, 0.0);
    for (int c = first; c < first + chips; ++c) {
      const TuneLogEntry* e = log_->find(split, cand, c);
      if (e->costs.size() != n) throw FileError(s_.out + "/log.csv: cost fields of " + cand + " do not match the model");
      r.metric.push_back(e->metric);
      for (size_t i = 0; i < n; ++i) r.costs[i] += e->costs[i] / chips;
    }
    return r;
  }

  // Per-chip losses of `cand` against `base` (same chips): positive = worse.
  PairedLoss loss(const Measurement& base, const Measurement& cand) const {
    std::vector<double> d;
    for (size_t i = 0; i < base.metric.size(); ++i)
      d.push_back(higher_is_better() ? base.metric[i] - cand.metric[i] : cand.metric[i] - base.metric[i]);
    return paired_loss(d, s_.confidence);
  }

  void start_progress(int64_t total) {
    total_ = std::max<int64_t>(total, 2);
    bar_ = std::make_unique<models::Progress>("tune", total_, o_.progress);
  }
  void finish_progress() {
    if (bar_) bar_->update(total_, ""), bar_->finish();
  }

 private:
  std::string fingerprint() const {
    std::ostringstream f;
    f << sha256_file(s_.model) << "\n" << policy_to_toml(base_) << "\n";
    f << (s_.hardware.empty() ? "default" : sha256_file(s_.hardware)) << "\n" << enum_name(s_.task) << " " << s_.data;
    for (const auto& k : s_.knobs) f << " " << k;
    f << " " << s_.samples << " " << s_.test_samples << " " << s_.calibration.samples << " " << s_.calibration.seed << " "
      << s_.calibration.on_test_data;
    return sha256_hex(f.str()).substr(0, 16);
  }

  // Per tuned layer and for the model: energy, latency, ADC energy, converter (ADC + DAC) energy.
  std::vector<double> costs(const torch::jit::Module& m, const std::vector<LayerCostRow>& rows) const {
    std::vector<double> c((units_.size() + 1) * kCostFields, 0.0);
    const auto layers = xbar_layers(m);
    for (size_t i = 0; i < rows.size(); ++i) {
      const LayerCost& lc = rows[i].cost;
      const double v[kCostFields] = {lc.inference_energy_pJ(), lc.inference_latency_ns(), lc.energy_pJ.adc,
                                     lc.energy_pJ.adc + lc.energy_pJ.dac};
      size_t slot = units_.size();
      for (size_t u = 0; u < units_.size(); ++u)
        if (units_[u].name == rows[i].name && units_[u].op == layers.at(i)->op_class()) slot = u;
      for (int f = 0; f < kCostFields; ++f) {
        if (slot < units_.size()) c[slot * kCostFields + f] += v[f];
        c[units_.size() * kCostFields + f] += v[f];
      }
    }
    return c;
  }

  const TuneSpec& s_;
  const TuneOptions& o_;
  Policy base_;
  Hardware hw_;
  std::vector<TuneUnit> units_;
  EvalData val_, test_;
  std::unique_ptr<TuneLog> log_;
  int64_t new_evals_ = 0, done_ = 0, total_ = 2;
  std::unique_ptr<models::Progress> bar_;
};

struct Step {
  size_t u, k;
};

// The next greedy step under budget x: among the one-bit steps not yet refused whose single-layer
// loss is within x and that save something, free ones (no predicted loss increase) with the
// largest saving first, then the largest saving per unit of predicted loss. False when none is left.
bool next_step(const std::vector<std::vector<int>>& level, const std::set<std::pair<size_t, size_t>>& refused,
               const Sensitivity& sens, double x, int objective, Step& best) {
  double best_key = -1, best_saving = 0;
  for (size_t u = 0; u < level.size(); ++u)
    for (size_t k = 0; k < level[u].size(); ++k) {
      if (refused.count({u, k})) continue;
      const auto next = sens.find({u, k, level[u][k] + 1});
      if (next == sens.end() || next->second.loss_mean > x) continue;
      const auto cur = sens.find({u, k, level[u][k]});
      if (cur == sens.end()) continue;  // a warm start beyond the measured ladder
      const double dloss = std::max(0.0, next->second.loss_mean) - std::max(0.0, cur->second.loss_mean);
      const double saving = cur->second.layer_cost[size_t(objective)] - next->second.layer_cost[size_t(objective)];
      if (!(saving > 0)) continue;
      const double key = dloss <= 0 ? std::numeric_limits<double>::infinity() : saving / dloss;
      if (key > best_key || (key == best_key && saving > best_saving)) best_key = key, best_saving = saving, best = {u, k};
    }
  return best_key >= 0;
}

void set_threads(int n) {
  if (n <= 0) return;
  at::set_num_threads(n);
  omp_set_num_threads(n);
}

}  // namespace

TuneSummary run_tune(const TuneSpec& s, const TuneOptions& o) {
  validate(s);
  set_threads(o.threads);
  Tuner t(s, o);
  const auto& units = t.units();
  const size_t nk = s.knobs.size();
  const int obj = int(s.objective);
  const double x_max = *std::max_element(s.max_loss.begin(), s.max_loss.end());
  const Schedule base = t.base_schedule();
  // Uniform grid: every layer at the same value per knob, from the largest base value down.
  std::vector<std::vector<int>> uniform_values(nk);
  for (size_t k = 0; k < nk; ++k) {
    int top = 0;
    for (const auto& u : units) top = std::max(top, u.base[k]);
    for (int b = top; b >= s.min_bits && top > 0; --b) uniform_values[k].push_back(b);
  }
  int64_t ladder = 0, grid = s.compare_uniform ? 1 : 0;
  for (const auto& u : units)
    for (size_t k = 0; k < nk; ++k) ladder += std::max(0, u.base[k] - s.min_bits);
  for (size_t k = 0; k < nk && s.compare_uniform; ++k) grid *= int64_t(std::max<size_t>(1, uniform_values[k].size()));
  t.start_progress(1 + ladder + grid + int64_t(4 * s.max_loss.size()) + 3);

  TuneSummary summary;
  try {
    const Measurement mbase = t.measure(base, false, 0, s.chips);
    // 1. Sensitivity of each layer and knob alone, one bit at a time.
    Sensitivity sens;
    for (size_t u = 0; u < units.size(); ++u)
      for (size_t k = 0; k < nk; ++k) {
        sens[{u, k, 0}] = {0.0, 0.0, mbase.layer(u)};
        if (units[u].base[k] <= 0) continue;  // ideal converter / float weights: nothing to lower
        for (int b = units[u].base[k] - 1, l = 1; b >= s.min_bits; --b, ++l) {
          Schedule v = base;
          v[u][k] = b;
          const Measurement m = t.measure(v, false, 0, s.chips);
          const PairedLoss pl = t.loss(mbase, m);
          sens[{u, k, l}] = {pl.stats.mean, pl.upper, m.layer(u)};
          if (pl.stats.mean > x_max) break;
        }
      }
    // Uniform settings (product over knobs), pruned where a more precise setting already lost > 2 x_max.
    std::vector<UniformPoint> uniform;
    if (s.compare_uniform) {
      std::vector<size_t> idx(nk, 0);
      std::vector<std::vector<int>> failed;
      for (bool more = true; more;) {
        std::vector<int> vals(nk);
        bool skip = false;
        for (size_t k = 0; k < nk; ++k) vals[k] = uniform_values[k].empty() ? -1 : uniform_values[k][idx[k]];
        for (const auto& f : failed) {
          bool dominated = true;
          for (size_t k = 0; k < nk; ++k) dominated = dominated && vals[k] <= f[k];
          skip = skip || dominated;
        }
        if (!skip) {
          Schedule v = base;
          for (size_t u = 0; u < units.size(); ++u)
            for (size_t k = 0; k < nk; ++k)
              if (units[u].base[k] > 0 && vals[k] > 0) v[u][k] = vals[k];
          UniformPoint p{vals, v, t.measure(v, false, 0, s.chips), {}};
          p.loss = t.loss(mbase, p.m);
          if (p.loss.stats.mean > 2 * x_max) failed.push_back(vals);
          uniform.push_back(p);
        }
        more = false;  // odometer over idx
        for (size_t k = nk; k-- > 0;) {
          if (uniform_values[k].empty()) continue;
          if (++idx[k] < uniform_values[k].size()) {
            more = true;
            break;
          }
          idx[k] = 0;
        }
      }
    }
    // 2.-3. Greedy allocation and verification per budget.
    std::vector<TunedPoint> tuned;
    for (double x : s.max_loss) {
      // Each step is verified on the whole schedule so far: kept when the loss bound stays within x,
      // else undone and that layer's knob is not lowered further.
      // Warm start: the cheapest uniform setting within x (so the tuned schedule never costs more on
      // the search data), refined per layer from there.
      std::vector<std::vector<int>> level(units.size(), std::vector<int>(nk, 0));
      std::set<std::pair<size_t, size_t>> refused;
      Schedule cur = base;
      TunedPoint p{x, base, mbase, t.loss(mbase, mbase), 0, 0};
      if (const UniformPoint* w = cheapest_uniform(uniform, x, obj); w && w->m.total(obj) < mbase.total(obj)) {
        cur = w->schedule;
        p.schedule = w->schedule, p.m = w->m, p.loss = w->loss, p.warm_start = w->values;
        for (size_t u = 0; u < units.size(); ++u)
          for (size_t k = 0; k < nk; ++k) level[u][k] = units[u].base[k] - cur[u][k];
      }
      for (Step st{0, 0}; next_step(level, refused, sens, x, obj, st);) {
        Schedule v = cur;
        --v[st.u][st.k];
        const Measurement m = t.measure(v, false, 0, s.chips);
        const PairedLoss l = t.loss(mbase, m);
        if (l.upper <= x) {
          ++level[st.u][st.k];
          cur = v;
          p.schedule = v, p.m = m, p.loss = l;
          ++p.accepted;
        } else {
          refused.insert({st.u, st.k});
          ++p.refused;
        }
      }
      tuned.push_back(p);
    }
    // Re-measurement on the test split and fresh chips: base, tuned (first budget), best uniform.
    const TunedPoint& first = tuned.front();
    FinalCheck fin;
    fin.base = t.measure(base, true, s.chips, s.final_chips);
    fin.tuned = t.measure(first.schedule, true, s.chips, s.final_chips);
    fin.tuned_loss = t.loss(fin.base, fin.tuned);
    if (const UniformPoint* cheapest = cheapest_uniform(uniform, first.x, obj)) {
      fin.has_uniform = true;
      fin.uniform_values = cheapest->values;
      fin.uniform = t.measure(cheapest->schedule, true, s.chips, s.final_chips);
      fin.uniform_loss = t.loss(fin.base, fin.uniform);
    }
    t.finish_progress();
    TuneOutputs out{s, units, mbase, sens, uniform, tuned, fin};
    write_tune_outputs(out, t.policy(first.schedule));
    summary = tune_summary(out);
  } catch (const Stopped&) {
    if (o.progress) std::cerr << "\n";
    summary.finished = false;
  }
  return summary;
}

}  // namespace xbar
