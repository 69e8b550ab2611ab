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
#include <tuple>

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
#include "engine/mapping.h"

namespace xbar {

const std::vector<std::string>& tune_knobs() {
  static const std::vector<std::string> k = {"adc.bits", "dac.bits", "mapping.weight_bits", "dac.slice_bits",
                                             "mapping.cell_bits"};
  return k;
}

namespace {

struct Stopped {};  // stop_after reached

int int_key(const XbarConfig& c, const std::string& key) {
  for (const auto& a : config_assignments(c))
    if (a.key == key) return int(std::get<int64_t>(a.value));
  throw ConfigError("--knobs", key, "not a config key");
}

// Slices (array reads per input, or cells per weight) the config needs with `key` set to v.
int slices_with(XbarConfig c, const std::string& key, int v) {
  if (key == "dac.slice_bits") {
    c.dac.slice_bits = v;
    return c.dac.slices();
  }
  c.mapping.cell_bits = v;
  return slice_layout(c.mapping).slices;
}

}  // namespace

std::vector<int> tune_knob_ladder(const std::string& key, const XbarConfig& c, int min_bits) {
  const int base = int_key(c, key);
  std::vector<int> v = {base};
  if (key == "dac.slice_bits" || key == "mapping.cell_bits") {
    // Wider slices: fewer reads (conversions) or fewer cells per weight, coarser levels per slice.
    // Only values that change the slice count; the last is 0 (one read / one cell per weight).
    if (base == 0) return v;
    for (int b = base + 1, last = slices_with(c, key, base); last > 1 && b <= 24; ++b) {
      const int n = slices_with(c, key, b);
      if (n < last) v.push_back(n == 1 ? 0 : b), last = n;
    }
    return v;
  }
  for (int b = base - 1; base > 0 && b >= min_bits; --b) v.push_back(b);  // bits: one fewer per step
  return v;
}

namespace {

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
      if (k == "adc.range")  // priced the same at every range: lowering it alone never saves
        throw ConfigError("--knobs", k, "not tunable: the cost model prices a conversion by its bits, not its range; "
                          "choose the range with xbar eval --split heldout and tune adc.bits (supported: " + names + ")");
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
    // A text model with a KV-cache decode method has two phases; each operator is then tuned per
    // phase (the forward method is prefill, decode the decode phase; other methods are not evaluated).
    phased_ = s.task == Task::text && fm.find_method("decode").has_value();
    torch::jit::Module cm = fm.clone();
    const ConvertReport rep = convert_module(cm, base_);
    std::set<std::tuple<std::string, OpClass, int>> seen;
    for (const auto& op : rep.ops) {
      if (!op.converted || op.mode != OpMode::analog || !op.op_class) continue;
      const Phase ph = method_phase(op.method);
      if (phased_ && op.method != "forward" && op.method != "decode") continue;
      if (!seen.insert({op.name, *op.op_class, phased_ ? int(ph) : -1}).second) continue;
      TuneUnit u;
      u.name = op.name;
      u.op = *op.op_class;
      if (phased_) u.phase = ph;
      const XbarConfig c = resolve(base_, op.name, *op.op_class, ph).cfg;
      for (const auto& k : s.knobs) {
        u.base.push_back(int_key(c, k));
        u.ladder.push_back(tune_knob_ladder(k, c, s.min_bits));
      }
      units_.push_back(u);
    }
    if (units_.empty()) throw InputError(s.model + ": no analog operator to tune under policy " + base_.source);
    data::ImageData images;
    if (s.task == Task::fashion_mnist) images = image_data_for(fm, s.data.empty() ? data::default_image_dir() : s.data);
    if (phased_) context_ = fm.attr("context_len").toInt();
    val_ = load_validation_data(s.task, s.samples, 0, s.calibration, images);
    test_ = load_eval_data(s.task, s.test_samples, 0, s.calibration, images);
    std::filesystem::create_directories(s.out);
    log_ = std::make_unique<TuneLog>(s.out + "/log.csv", fingerprint());
  }

  const std::vector<TuneUnit>& units() const { return units_; }
  const Policy& base_policy() const { return base_; }
  const EvalData& val() const { return val_; }
  bool higher_is_better() const { return s_.task != Task::text; }
  bool phased() const { return phased_; }
  // Context windows the decode phase generates per chip: every whole window of the split's samples.
  int64_t decode_windows(bool test) const {
    const EvalData& d = test ? test_ : val_;
    return (d.tokens.numel() - 1) / context_;
  }
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
          t += (t.empty() ? "" : " ") + units_[u].name + "/" + enum_name(units_[u].op) +
               (units_[u].phase ? "/" + std::string(enum_name(*units_[u].phase)) : std::string()) + ":" + s_.knobs[k] +
               "=" + std::to_string(v[u][k]);
    return t.empty() ? "base" : t;
  }

  // The base policy plus one rule per layer (and phase) whose settings differ from the base; the
  // rule matches the layer's name literally.
  Policy policy(const Schedule& v) const {
    Policy p = base_;
    for (size_t u = 0; u < units_.size(); ++u) {
      PolicyRule r;
      r.match = glob_literal(units_[u].name);
      r.op = units_[u].op;
      r.phase = units_[u].phase;
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
        std::vector<LayerCounters> before = model_counters(m);
        TuneLogEntry e;
        e.metrics = {evaluate(m, d)};
        e.costs = costs(m, model_cost_rows(m, hw_, before, double(eval_inferences(m, d))), Phase::prefill);
        if (phased_) {  // the same chip generates the same characters token by token (KV cache)
          calibrate_decode(m, d.calibration);  // decode-only layers: not priced as decoding
          before = model_counters(m);
          e.metrics.push_back(evaluate_decode(m, d, decode_windows_));
          const auto dc = costs(m, model_cost_rows(m, hw_, before, double(decode_inferences(m, d, decode_windows_))),
                                Phase::decode);
          for (size_t i = 0; i < dc.size(); ++i) e.costs[i] += dc[i];
        }
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
      if (e->costs.size() != n || e->metrics.size() != (phased_ ? 2u : 1u))
        throw FileError(s_.out + "/log.csv: fields of " + cand + " do not match the model");
      r.metric.push_back(e->metrics[0]);
      if (phased_) r.decode.push_back(e->metrics[1]);
      for (size_t i = 0; i < n; ++i) r.costs[i] += e->costs[i] / chips;
    }
    return r;
  }

  // Per-chip losses of `cand` against `base` (same chips): positive = worse; accuracy points, or for
  // bits per character percent of the base's value on that chip. With phases, the phase whose
  // bound is larger (a schedule passes when both phases do).
  PairedLoss loss(const Measurement& base, const Measurement& cand) const {
    auto one = [&](const std::vector<double>& b, const std::vector<double>& c) {
      std::vector<double> d;
      for (size_t i = 0; i < b.size(); ++i) d.push_back(higher_is_better() ? b[i] - c[i] : 100.0 * (c[i] - b[i]) / b[i]);
      return paired_loss(d, s_.confidence);
    };
    PairedLoss l = one(base.metric, cand.metric);
    if (!base.decode.empty()) {
      const PairedLoss d = one(base.decode, cand.decode);
      if (d.upper > l.upper) l = d;
    }
    return l;
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
  // Rows of an evaluation in `phase` go to that phase's units (all units for a model with one phase).
  std::vector<double> costs(const torch::jit::Module& m, const std::vector<LayerCostRow>& rows, Phase phase) const {
    std::vector<double> c((units_.size() + 1) * kCostFields, 0.0);
    const auto layers = xbar_layers(m);
    for (size_t i = 0; i < rows.size(); ++i) {
      const LayerCost& lc = rows[i].cost;
      const double v[kCostFields] = {lc.inference_energy_pJ(), lc.inference_latency_ns(), lc.energy_pJ.adc,
                                     lc.energy_pJ.adc + lc.energy_pJ.dac};
      size_t slot = units_.size();
      for (size_t u = 0; u < units_.size(); ++u)
        if (units_[u].name == rows[i].name && units_[u].op == layers.at(i)->op_class() &&
            (!units_[u].phase || *units_[u].phase == phase))
          slot = u;
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
  bool phased_ = false;
  int64_t decode_windows_ = std::numeric_limits<int64_t>::max();  // every whole window of the samples
  int64_t context_ = 1;                                            // a model with phases: its context_len
  EvalData val_, test_;
  std::unique_ptr<TuneLog> log_;
  int64_t new_evals_ = 0, done_ = 0, total_ = 2;
  std::unique_ptr<models::Progress> bar_;
};

struct Step {
  size_t u, k;
};

// Order of slice widths from the most precise: 1, 2, ... bits, then 0 (one read / one cell).
int width_rank(int v) { return v == 0 ? std::numeric_limits<int>::max() : v; }

// Position of value v on a ladder; -1 when it is not on it (a uniform setting beyond the ladder).
int ladder_index(const std::vector<int>& ladder, int v) {
  const auto it = std::find(ladder.begin(), ladder.end(), v);
  return it == ladder.end() ? -1 : int(it - ladder.begin());
}

// The next greedy step under budget x: among the one-bit steps not yet refused whose single-layer
// loss is within x and that save something, free ones (no predicted loss increase) with the
// largest saving first, then the largest saving per unit of predicted loss. False when none is left.
bool next_step(const std::vector<std::vector<int>>& level, const std::set<std::pair<size_t, size_t>>& refused,
               const Sensitivity& sens, double x, int objective, Step& best) {
  double best_key = -1, best_saving = 0;
  for (size_t u = 0; u < level.size(); ++u)
    for (size_t k = 0; k < level[u].size(); ++k) {
      if (refused.count({u, k}) || level[u][k] < 0) continue;
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
  // Uniform grid: every layer at the same value per knob, from the most precise value toward the
  // cheapest (bits: from the largest base value down; slice widths: the union of the ladders).
  std::vector<std::vector<int>> uniform_values(nk);
  for (size_t k = 0; k < nk; ++k) {
    if (tune_knob_bits(s.knobs[k])) {
      int top = 0;
      for (const auto& u : units) top = std::max(top, u.base[k]);
      for (int b = top; b >= s.min_bits && top > 0; --b) uniform_values[k].push_back(b);
      continue;
    }
    std::set<int> vals;
    for (const auto& u : units)
      if (u.ladder[k].size() > 1) vals.insert(u.ladder[k].begin(), u.ladder[k].end());
    for (int v : vals) uniform_values[k].push_back(v);
    std::sort(uniform_values[k].begin(), uniform_values[k].end(), [](int a, int b) { return width_rank(a) < width_rank(b); });
  }
  // cheapness(k, v): larger = cheaper setting of knob k (for pruning dominated uniform settings).
  auto cheapness = [&](size_t k, int v) { return tune_knob_bits(s.knobs[k]) ? -v : width_rank(v); };
  int64_t ladder = 0, grid = s.compare_uniform ? 1 : 0;
  for (const auto& u : units)
    for (size_t k = 0; k < nk; ++k) ladder += int64_t(u.ladder[k].size()) - 1;
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
        // An ideal converter, float weights or an unsliced input / weight has a one-value ladder.
        for (size_t l = 1; l < units[u].ladder[k].size(); ++l) {
          Schedule v = base;
          v[u][k] = units[u].ladder[k][l];
          const Measurement m = t.measure(v, false, 0, s.chips);
          const PairedLoss pl = t.loss(mbase, m);
          sens[{u, k, int(l)}] = {pl.stats.mean, pl.upper, m.layer(u)};
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
          for (size_t k = 0; k < nk; ++k) dominated = dominated && cheapness(k, vals[k]) >= cheapness(k, f[k]);
          skip = skip || dominated;
        }
        if (!skip) {
          Schedule v = base;
          for (size_t u = 0; u < units.size(); ++u)
            for (size_t k = 0; k < nk; ++k)
              if (vals[k] >= 0 && units[u].ladder[k].size() > 1) v[u][k] = vals[k];
          std::vector<int> cheap(nk);
          for (size_t k = 0; k < nk; ++k) cheap[k] = cheapness(k, vals[k]);
          UniformPoint p{vals, cheap, v, t.measure(v, false, 0, s.chips), {}};
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
          for (size_t k = 0; k < nk; ++k) level[u][k] = ladder_index(units[u].ladder[k], cur[u][k]);
      }
      for (Step st{0, 0}; next_step(level, refused, sens, x, obj, st);) {
        Schedule v = cur;
        v[st.u][st.k] = units[st.u].ladder[st.k][size_t(level[st.u][st.k] + 1)];
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
    if (t.phased()) fin.search_windows = t.decode_windows(false), fin.test_windows = t.decode_windows(true);
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
