#include "apps/tune_output.h"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "common/atomic_file.h"
#include "common/stats.h"

namespace xbar {

namespace {

// Mean single-layer losses of knob k of unit u, 1, 2, ... bits below its base, as measured.
std::vector<double> ladder(const Sensitivity& sens, size_t u, size_t k) {
  std::vector<double> v;
  for (int l = 1;; ++l) {
    const auto it = sens.find({u, k, l});
    if (it == sens.end()) return v;
    v.push_back(it->second.loss_mean);
  }
}

const char* unit_of(TuneObjective o) { return o == TuneObjective::latency ? "ns" : "pJ"; }

std::string fmt(double v, int prec = 3) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(prec) << v;
  return s.str();
}

std::string mean_sd(const std::vector<double>& v) {
  const MeanStd ms = mean_std(v);
  return fmt(ms.mean) + " +- " + fmt(ms.sd);
}

// The metric per phase: "3.412 +- 0.004", or with phases "prefill 3.412 +- 0.004, decode 3.415 +- 0.003".
std::string metric_text(const Measurement& m) {
  return m.decode.empty() ? mean_sd(m.metric) : "prefill " + mean_sd(m.metric) + ", decode " + mean_sd(m.decode);
}

std::string per_chip(const std::vector<double>& v) {
  std::string t;
  for (double x : v) t += (t.empty() ? "" : " ") + fmt(x, 4);
  return t;
}

std::string saving(double before, double after) {
  return before > 0 ? fmt(100.0 * (before - after) / before, 1) + " %" : "-";
}

std::string loss_text(const PairedLoss& l, double level) {
  return "loss " + fmt(l.stats.mean) + " +- " + fmt(l.stats.sd) + ", upper " + fmt(100 * level, 0) + " % bound " + fmt(l.upper);
}

std::string values_text(const TuneSpec& s, const std::vector<int>& v) {
  std::string t;
  for (size_t k = 0; k < v.size(); ++k) t += (t.empty() ? "" : " ") + s.knobs[k] + "=" + (v[k] < 0 ? "base" : std::to_string(v[k]));
  return t;
}

std::string report(const TuneOutputs& o) {
  const TuneSpec& s = o.spec;
  const int obj = int(s.objective);
  const std::string ou = unit_of(s.objective), on = enum_name(s.objective);
  const TunedPoint& t = o.tuned.front();
  std::ostringstream r;
  r << "xbar tune report\n"
    << "model " << s.model << "\npolicy " << (s.policy.empty() ? "<ideal>" : s.policy) << "\ntask " << enum_name(s.task)
    << "\nobjective " << on << " (" << ou << " per inference, cost model; converter_energy = ADC + DAC components)\n"
    << "budget: loss <= " << t.x << " (metric units), one-sided " << fmt(100 * s.confidence, 0)
    << " % upper bound of the paired per-chip loss\n"
    << "search: " << (s.samples ? std::to_string(s.samples) : std::string("all")) << " held-out training samples, chips 0.."
    << s.chips - 1 << "; re-measurement: " << (s.test_samples ? std::to_string(s.test_samples) : std::string("all"))
    << " test samples, chips " << s.chips << ".." << s.chips + s.final_chips - 1 << " (never used in the search)\n\n";
  r << "per layer (sensitivity: mean loss with this knob 1, 2, ... bits below base, this layer alone, until the loss\n"
       "exceeds the largest budget; " << on << " in " << ou << ")\n";
  r << std::left << std::setw(32) << "layer" << std::setw(9) << "op";
  for (const auto& k : s.knobs) r << std::setw(22) << (k + " base->tuned");
  for (const auto& k : s.knobs) r << std::setw(30) << ("loss " + k.substr(0, k.find('.')) + " -1/-2/.. bits");
  r << std::setw(14) << "before" << std::setw(14) << "after" << "saving\n";
  double before_sum = 0, after_sum = 0;
  for (size_t u = 0; u < o.units.size(); ++u) {
    r << std::setw(32) << o.units[u].label() << std::setw(9) << enum_name(o.units[u].op);
    for (size_t k = 0; k < s.knobs.size(); ++k)
      r << std::setw(22) << (std::to_string(o.units[u].base[k]) + " -> " + std::to_string(t.schedule[u][k]));
    for (size_t k = 0; k < s.knobs.size(); ++k) {
      std::string t;
      for (double v : ladder(o.sens, u, k)) t += (t.empty() ? "" : "/") + fmt(v, 2);
      r << std::setw(30) << (t.empty() ? std::string("-") : t);
    }
    const double b = o.base.layer(u)[size_t(obj)], a = t.m.layer(u)[size_t(obj)];
    before_sum += b, after_sum += a;
    r << std::setw(14) << fmt(b, 1) << std::setw(14) << fmt(a, 1) << saving(b, a) << "\n";
  }
  r << std::setw(32) << "tuned layers" << std::setw(9) << "" << std::setw(52 * int(s.knobs.size())) << ""
    << std::setw(14) << fmt(before_sum, 1) << std::setw(14) << fmt(after_sum, 1) << saving(before_sum, after_sum) << "\n";
  r << std::setw(32) << "model" << std::setw(9) << "" << std::setw(52 * int(s.knobs.size())) << ""
    << std::setw(14) << fmt(o.base.total(obj), 1) << std::setw(14) << fmt(t.m.total(obj), 1)
    << saving(o.base.total(obj), t.m.total(obj)) << "\n"
    << std::right;
  r << "\nsearch (held-out split, search chips)\n  base   " << metric_text(o.base) << "  " << on << " "
    << fmt(o.base.total(obj), 1) << " " << ou << "\n";
  for (const auto& p : o.tuned)
    r << "  tuned X=" << p.x << ": " << metric_text(p.m) << "  " << loss_text(p.loss, s.confidence) << "  " << on << " "
      << fmt(p.m.total(obj), 1) << " " << ou << " (" << saving(o.base.total(obj), p.m.total(obj)) << " below base); greedy steps: "
      << p.accepted << " kept, " << p.refused << " undone by verification; started from "
      << (p.warm_start.empty() ? std::string("the base") : "uniform " + values_text(s, p.warm_start)) << "\n";
  if (const UniformPoint* cheapest = cheapest_uniform(o.uniform, t.x, obj))
    r << "  cheapest uniform within X=" << t.x << ": " << values_text(s, cheapest->values) << "  " << metric_text(cheapest->m)
      << "  " << loss_text(cheapest->loss, s.confidence) << "  " << on << " " << fmt(cheapest->m.total(obj), 1) << " " << ou << "\n";
  else if (s.compare_uniform)
    r << "  no uniform setting below the base stays within X=" << t.x << "\n";
  const FinalCheck& f = o.fin;
  r << "\nre-measurement (test split, fresh chips)\n"
    << "  base   " << metric_text(f.base) << "  " << on << " " << fmt(f.base.total(obj), 1) << " " << ou << "  chips: " << per_chip(f.base.metric) << "\n"
    << "  tuned  " << metric_text(f.tuned) << "  " << loss_text(f.tuned_loss, s.confidence) << "  " << on << " "
    << fmt(f.tuned.total(obj), 1) << " " << ou << " (" << saving(f.base.total(obj), f.tuned.total(obj)) << " below base)  chips: "
    << per_chip(f.tuned.metric) << "\n";
  if (f.has_uniform)
    r << "  uniform " << values_text(s, f.uniform_values) << "  " << metric_text(f.uniform) << "  "
      << loss_text(f.uniform_loss, s.confidence) << "  " << on << " " << fmt(f.uniform.total(obj), 1) << " " << ou << "\n"
      << "  tuned vs cheapest uniform within X: " << on << " " << saving(f.uniform.total(obj), f.tuned.total(obj)) << " lower\n";
  r << "  converter energy (ADC + DAC, pJ): base " << fmt(f.base.total(3), 1) << ", tuned " << fmt(f.tuned.total(3), 1);
  if (f.has_uniform) r << ", uniform " << fmt(f.uniform.total(3), 1);
  // xbar eval evaluates chips offset..offset+repeats-1 like the search (program, calibrate, evaluate;
  // task text: then decode over every whole window of the samples).
  auto eval_cmd = [&](const std::string& split, int64_t samples, int offset, int chips, int64_t windows) {
    std::ostringstream e;
    e << "xbar eval --model " << s.model << " --policy " << s.out << "/policy.toml --task " << enum_name(s.task)
      << " --split " << split << " --samples " << samples << " --chip-offset " << offset << " --repeats " << chips
      << " --calibration-samples " << s.calibration.samples << " --calibration-seed " << s.calibration.seed;
    if (!s.hardware.empty()) e << " --hardware " << s.hardware;
    if (windows > 0) e << " --decode-windows " << windows;
    return e.str();
  };
  r << "\n\nreproduce the tuned search metric per chip (" << per_chip(t.m.metric) << "):\n  "
    << eval_cmd("heldout", s.samples, 0, s.chips, f.search_windows) << "\nand its re-measurement on fresh chips (" << per_chip(f.tuned.metric)
    << "):\n  " << eval_cmd("test", s.test_samples, s.chips, s.final_chips, f.test_windows) << "\n";
  return r.str();
}

// The decode phase's mean metric, or an empty field for a model with one phase.
std::string decode_mean(const Measurement& m) {
  if (m.decode.empty()) return "";
  std::ostringstream c;
  c << std::setprecision(10) << mean_std(m.decode).mean;
  return c.str();
}

std::string pareto_csv(const TuneOutputs& o) {
  const int obj = int(o.spec.objective);
  std::ostringstream c;
  c << std::setprecision(10)
    << "kind,label,max_loss,metric,decode_metric,loss_mean,loss_upper,objective,objective_name,metric_name\n";
  // The metric's name also tells the plot its direction (bits per character: lower is better).
  const std::string on = enum_name(o.spec.objective) + std::string("_") + unit_of(o.spec.objective) + "," +
                         (o.spec.task == Task::text ? "bits_per_char" : "accuracy_percent");
  c << "base,base,0," << mean_std(o.base.metric).mean << "," << decode_mean(o.base) << ",0,0," << o.base.total(obj) << ","
    << on << "\n";
  for (const auto& p : o.uniform)
    c << "uniform," << values_text(o.spec, p.values) << ",," << mean_std(p.m.metric).mean << "," << decode_mean(p.m) << ","
      << p.loss.stats.mean << "," << p.loss.upper << "," << p.m.total(obj) << "," << on << "\n";
  for (const auto& p : o.tuned)
    c << "tuned,X=" << p.x << "," << p.x << "," << mean_std(p.m.metric).mean << "," << decode_mean(p.m) << ","
      << p.loss.stats.mean << "," << p.loss.upper << "," << p.m.total(obj) << "," << on << "\n";
  return c.str();
}

}  // namespace

std::string TuneUnit::label() const { return phase ? name + " (" + enum_name(*phase) + ")" : name; }

const UniformPoint* cheapest_uniform(const std::vector<UniformPoint>& uniform, double x, int objective) {
  auto at_least_as_precise = [](const UniformPoint& q, const UniformPoint& p) {
    for (size_t k = 0; k < p.cheapness.size(); ++k)
      if (q.cheapness[k] > p.cheapness[k]) return false;
    return true;
  };
  auto passes = [&](const UniformPoint& p) {
    if (!(p.loss.upper <= x)) return false;
    for (const auto& q : uniform)
      if (at_least_as_precise(q, p) && !(q.loss.upper <= x)) return false;
    return true;
  };
  const UniformPoint* best = nullptr;
  for (const auto& p : uniform)
    if (passes(p) && (!best || p.m.total(objective) < best->m.total(objective))) best = &p;
  return best;
}

void write_tune_outputs(const TuneOutputs& o, const Policy& tuned_policy) {
  const std::string head = "# xbar tune: " + o.spec.model + ", base policy " +
                           (o.spec.policy.empty() ? std::string("<ideal>") : o.spec.policy) + ", budget " +
                           fmt(o.tuned.front().x) + ", objective " + enum_name(o.spec.objective) +
                           "; one [[override]] per tuned layer (DIR/report)\n";
  write_file_atomic(o.spec.out + "/policy.toml", head + policy_to_toml(tuned_policy));
  write_file_atomic(o.spec.out + "/report", report(o));
  write_file_atomic(o.spec.out + "/pareto.csv", pareto_csv(o));
}

TuneSummary tune_summary(const TuneOutputs& o) {
  TuneSummary r;
  r.finished = true;
  const TunedPoint& t = o.tuned.front();
  r.schedule = t.m.candidate;
  r.search_metric = t.m.metric;
  r.search_decode = t.m.decode;
  r.final_metric = o.fin.tuned.metric;
  r.final_decode = o.fin.tuned.decode;
  for (size_t u = 0; u < o.units.size(); ++u) {
    TunedLayer l{o.units[u].name, enum_name(o.units[u].op), o.units[u].phase ? enum_name(*o.units[u].phase) : "",
                 o.units[u].base, t.schedule[u], {}, 0, 0};
    for (size_t k = 0; k < o.spec.knobs.size(); ++k) l.sensitivity.push_back(ladder(o.sens, u, k));
    l.objective_base = o.base.layer(u)[size_t(o.spec.objective)];
    l.objective_tuned = t.m.layer(u)[size_t(o.spec.objective)];
    r.layers.push_back(l);
  }
  return r;
}

}  // namespace xbar
