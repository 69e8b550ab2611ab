#include "src/study/study.h"

#include <torch/script.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <toml++/toml.h>

#include "common/error.h"
#include "common/h5io.h"
#include "devices/sha256.h"
#include "models/progress.h"
#include "src/policy.h"
#include "src/study/evaluate.h"
#include "src/torch/convert.h"

namespace xbar {

namespace {

struct Row {
  int64_t index;
  double metric, saturation;
};

std::string csv_header(const StudySpec& s) {
  std::string h = "index,repeat";
  for (const auto& g : s.grid) h += "," + g.first;
  return h + ",metric,saturation_fraction";
}

// Finished rows of an earlier run (a partial last line is dropped).
std::map<int64_t, Row> read_rows(const StudySpec& s, const std::string& path) {
  std::map<int64_t, Row> rows;
  std::ifstream f(path);
  if (!f) return rows;
  std::string line;
  if (!std::getline(f, line) || line != "# xbar study " + s.fingerprint)
    throw FileError(path + ": results of a different study definition (model, policy, task or grid changed); "
                    "delete it or choose another study.output");
  std::getline(f, line);  // column names
  const size_t ncols = 2 + s.grid.size() + 2;
  while (std::getline(f, line)) {
    if (f.eof()) break;  // no newline: written partly when the run was killed
    std::vector<std::string> c;
    std::stringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) c.push_back(x);
    if (c.size() != ncols) throw FileError(path + ": malformed row '" + line + "'");
    rows[std::stoll(c[0])] = Row{std::stoll(c[0]), std::stod(c[ncols - 2]), std::stod(c[ncols - 1])};
  }
  return rows;
}

std::string fmt(double v) {
  std::ostringstream os;
  os << std::setprecision(17) << v;
  return os.str();
}

void write_h5(const StudySpec& s, const std::vector<StudyPoint>& pts, const std::map<int64_t, Row>& rows,
              const Policy& base, double float_metric, const std::string& metric_name) {
  const std::string tmp = s.output + ".h5.tmp";
  {
    h5::Writer w(tmp);
    std::vector<double> idx, rep, met, sat;
    std::vector<std::vector<std::string>> vals(s.grid.size());
    std::vector<std::string> cfgs;
    for (const auto& [i, r] : rows) {
      const StudyPoint& p = pts[size_t(i)];
      idx.push_back(double(i));
      rep.push_back(p.repeat);
      met.push_back(r.metric);
      sat.push_back(r.saturation);
      for (size_t k = 0; k < s.grid.size(); ++k) vals[k].push_back(p.values[k]);
      cfgs.push_back(point_policy(base, s, p.values).default_toml);
    }
    const std::vector<size_t> shape = {idx.size()};
    w.write("index", idx, shape);
    w.write("repeat", rep, shape);
    w.write("metric", met, shape);
    w.write("saturation_fraction", sat, shape);
    w.group("/grid");
    for (size_t k = 0; k < s.grid.size(); ++k) w.write_strings("/grid/" + s.grid[k].first, vals[k]);
    w.write_strings("config_toml", cfgs);
    w.attr("/", "schema", std::string("xbar-study"));
    w.attr("/", "fingerprint", s.fingerprint);
    w.attr("/", "model", s.model);
    w.attr("/", "task", s.task);
    w.attr("/", "metric", metric_name);
    w.attr("/", "float_metric", float_metric);
    w.attr("/", "points_total", int64_t(pts.size()));
    w.attr("/", "study_toml", read_whole_file(s.source, "study file"));
  }
  if (std::rename(tmp.c_str(), (s.output + ".h5").c_str()) != 0) throw FileError(s.output + ".h5: cannot replace");
}

void print_table(const StudySpec& s, const std::vector<StudyPoint>& pts, const std::map<int64_t, Row>& rows,
                 double float_metric, const std::string& metric_name) {
  std::map<std::vector<std::string>, std::vector<double>> groups;
  std::vector<std::vector<std::string>> order;
  for (const auto& [i, r] : rows) {
    auto& g = groups[pts[size_t(i)].values];
    if (g.empty()) order.push_back(pts[size_t(i)].values);
    g.push_back(r.metric);
  }
  std::cout << metric_name << " (float model: " << std::fixed << std::setprecision(2) << float_metric << ")\n";
  for (const auto& g : s.grid) std::cout << std::setw(16) << g.first;
  std::cout << std::setw(12) << "mean" << std::setw(10) << "std" << std::setw(6) << "n" << "\n";
  for (const auto& key : order) {
    const auto& v = groups[key];
    double m = 0, q = 0;
    for (double x : v) m += x;
    m /= double(v.size());
    for (double x : v) q += (x - m) * (x - m);
    const double sd = v.size() > 1 ? std::sqrt(q / double(v.size() - 1)) : 0.0;
    for (const auto& x : key) std::cout << std::setw(16) << x;
    std::cout << std::setw(12) << m << std::setw(10) << sd << std::setw(6) << v.size() << "\n";
  }
  std::cout.unsetf(std::ios::fixed);
}

}  // namespace

int64_t run_study(const StudySpec& s, const StudyOptions& o) {
  const std::vector<StudyPoint> pts = study_points(s);
  const std::string csv = s.output + ".csv";
  const auto dir = std::filesystem::path(s.output).parent_path();
  std::error_code ec;
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) throw FileError(dir.string() + ": cannot create the results directory (" + ec.message() + ")");
  std::map<int64_t, Row> rows = read_rows(s, csv);
  {
    // Rewrite the finished rows (dropping a partial line), then append from here on.
    const std::string tmp = csv + ".tmp";
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) throw FileError(tmp + ": cannot write results");
    f << "# xbar study " << s.fingerprint << "\n" << csv_header(s) << "\n";
    for (const auto& [i, r] : rows) {
      f << i << "," << pts[size_t(i)].repeat;
      for (const auto& v : pts[size_t(i)].values) f << "," << v;
      f << "," << fmt(r.metric) << "," << fmt(r.saturation) << "\n";
    }
    f.close();
    if (std::rename(tmp.c_str(), csv.c_str()) != 0) throw FileError(csv + ": cannot replace");
  }
  const Policy base = load_policy(s.policy);
  const EvalData data = load_eval_data(s.task, s.samples, s.context);
  torch::jit::Module fm = load_torchscript(s.model);
  const double float_metric = evaluate(fm, data);
  if (!rows.empty()) std::cerr << "resuming: " << rows.size() << " of " << pts.size() << " points already done\n";
  models::Progress bar("study", int64_t(pts.size()), o.progress);
  bar.update(int64_t(rows.size()), "");
  std::ofstream out(csv, std::ios::app);
  int64_t done_now = 0;
  for (const auto& p : pts) {
    if (rows.count(p.index)) continue;
    if (o.stop_after > 0 && done_now >= o.stop_after) break;
    torch::jit::Module m = load_torchscript(s.model);
    convert_module(m, point_policy(base, s, p.values));
    program_chip(m, p.repeat);
    const double metric = evaluate(m, data);
    double conv = 0, sat = 0;
    for (const auto& l : xbar_layers(m)) {
      const auto c = l->counters();
      conv += c.at("conversions");
      sat += c.at("saturations");
    }
    const Row r{p.index, metric, conv > 0 ? sat / conv : 0.0};
    rows[p.index] = r;
    out << p.index << "," << p.repeat;
    for (const auto& v : p.values) out << "," << v;
    out << "," << fmt(r.metric) << "," << fmt(r.saturation) << "\n";
    out.flush();
    write_h5(s, pts, rows, base, float_metric, data.metric());
    ++done_now;
    std::ostringstream info;
    info << std::fixed << std::setprecision(2) << data.metric() << " " << metric;
    bar.update(int64_t(rows.size()), info.str());
  }
  bar.finish();
  write_h5(s, pts, rows, base, float_metric, data.metric());
  print_table(s, pts, rows, float_metric, data.metric());
  return done_now;
}

}  // namespace xbar
