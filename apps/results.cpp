#include "apps/results.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <mutex>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/h5io.h"
#include "common/sha256.h"
#include "engine/config.h"

#ifndef XBAR_VERSION_STRING
#define XBAR_VERSION_STRING "unknown"
#endif

namespace xbar {

namespace {

std::string fmt(double v) {
  std::ostringstream os;
  os << std::setprecision(17) << v;
  return os.str();
}

// Device files are hashed once per path per process (every h5 rewrite lists every point).
std::string device_hash(const XbarConfig& c) {
  if (c.device.model != DeviceKind::file) return "";
  static std::mutex mu;
  static std::map<std::string, std::string> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(c.device.file);
  if (it == cache.end()) it = cache.emplace(c.device.file, sha256_file(c.device.file)).first;
  return it->second;
}

}  // namespace

std::string xbar_version() { return XBAR_VERSION_STRING; }

ResultsMeta study_meta(const StudySpec& s) {
  ResultsMeta m;
  m.fingerprint = s.fingerprint;
  m.model = s.model;
  m.model_sha256 = sha256_file(s.model);
  m.task = enum_name(s.task);
  m.study_toml = read_whole_file(s.source, "study file");
  m.policy_toml = read_whole_file(s.policy, "policy");
  m.policy_source = s.policy;
  m.xbar_version = xbar_version();
  for (const auto& g : s.grid) m.grid_keys.push_back(g.first);
  m.data_dir = s.data;
  m.samples = s.samples;
  m.context = s.context;
  m.points_total = int64_t(study_points(s).size());
  return m;
}

ResultRow make_row(const StudySpec& s, const Policy& base, const StudyPoint& p, double metric, double saturation) {
  ResultRow r;
  r.index = p.index;
  r.repeat = p.repeat;
  r.values = p.values;
  r.metric = metric;
  r.saturation = saturation;
  const XbarConfig c = point_policy(base, s, p.values).defaults;
  r.config_toml = to_toml(c);
  r.seed = c.run.seed;
  r.device_sha256 = device_hash(c);
  return r;
}

std::string csv_header(const std::vector<std::string>& grid_keys) {
  std::string h = "index,repeat";
  for (const auto& k : grid_keys) h += "," + k;
  return h + ",metric,saturation_fraction,energy_pJ,latency_ns,area_mm2";
}

std::string csv_row(const ResultRow& r) {
  std::string l = std::to_string(r.index) + "," + std::to_string(r.repeat);
  for (const auto& v : r.values) l += "," + v;
  return l + "," + fmt(r.metric) + "," + fmt(r.saturation) + "," + fmt(r.cost.energy_pJ) + "," + fmt(r.cost.latency_ns) +
         "," + fmt(r.cost.area_mm2);
}

std::map<int64_t, CsvValues> read_csv_rows(const std::string& path, const std::string& fingerprint, size_t grid_keys) {
  std::map<int64_t, CsvValues> rows;
  std::ifstream f(path);
  if (!f) return rows;
  std::string line;
  if (!std::getline(f, line) || line != "# xbar study " + fingerprint)
    throw FileError(path + ": results of a different study definition (model, policy, task or grid changed); "
                    "delete it or choose another study.output");
  std::getline(f, line);  // `# data ...`, then the column names
  if (line.rfind("# data ", 0) == 0) std::getline(f, line);
  const size_t ncols = 2 + grid_keys + 2, ncols_cost = ncols + 3;
  while (std::getline(f, line)) {
    if (f.eof()) break;  // no newline: written partly when the run was killed
    std::vector<std::string> c;
    std::stringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) c.push_back(x);
    if (c.size() != ncols && c.size() != ncols_cost) throw FileError(path + ": malformed row '" + line + "'");
    try {
      CsvValues v{std::stod(c[ncols - 2]), std::stod(c[ncols - 1]), {}};
      if (c.size() == ncols_cost) v.cost = {std::stod(c[ncols]), std::stod(c[ncols + 1]), std::stod(c[ncols + 2])};
      rows[std::stoll(c[0])] = v;
    } catch (const std::logic_error&) {
      throw FileError(path + ": malformed row '" + line + "'");
    }
  }
  return rows;
}

void write_csv(const Results& r, const std::string& path) {
  std::string text = "# xbar study " + r.meta.fingerprint + "\n";
  if (!r.meta.data.empty()) text += "# data " + r.meta.data + "\n";
  text += csv_header(r.meta.grid_keys) + "\n";
  for (const auto& [i, row] : r.rows) text += csv_row(row) + "\n";
  write_file_atomic(path, text);
}

void write_h5(const Results& r, const std::string& path) {
  const ResultsMeta& m = r.meta;
  {
    h5::Writer w(path);
    std::vector<double> idx, rep, met, sat, seed, energy, latency, area;
    std::vector<std::vector<std::string>> vals(m.grid_keys.size());
    std::vector<std::string> cfgs, dev;
    for (const auto& [i, row] : r.rows) {
      idx.push_back(double(i));
      rep.push_back(row.repeat);
      met.push_back(row.metric);
      sat.push_back(row.saturation);
      energy.push_back(row.cost.energy_pJ);
      latency.push_back(row.cost.latency_ns);
      area.push_back(row.cost.area_mm2);
      seed.push_back(double(row.seed));
      for (size_t k = 0; k < vals.size(); ++k) vals[k].push_back(row.values.at(k));
      cfgs.push_back(row.config_toml);
      dev.push_back(row.device_sha256);
    }
    const std::vector<size_t> shape = {idx.size()};
    w.write("index", idx, shape);
    w.write("repeat", rep, shape);  // = chip: the Philox key of the point's random draws with run.seed
    w.write("seed", seed, shape);
    w.write("metric", met, shape);
    w.write("saturation_fraction", sat, shape);
    w.write("energy_pJ", energy, shape);  // per inference (image or token)
    w.write("latency_ns", latency, shape);
    w.write("area_mm2", area, shape);
    w.group("/grid");
    for (size_t k = 0; k < vals.size(); ++k) w.write_strings("/grid/" + m.grid_keys[k], vals[k]);
    w.write_strings("grid_keys", m.grid_keys);
    w.write_strings("config_toml", cfgs);
    w.write_strings("device_sha256", dev);
    w.attrs("/", {{"schema", std::string("xbar-study")},
                  {"fingerprint", m.fingerprint},
                  {"xbar_version", m.xbar_version},
                  {"model", m.model},
                  {"model_sha256", m.model_sha256},
                  {"task", m.task},
                  {"data_dir", m.data_dir},
                  {"data", m.data},
                  {"samples", m.samples},
                  {"context", m.context},
                  {"metric", m.metric_name},
                  {"float_metric", m.float_metric},
                  {"points_total", m.points_total},
                  {"shard_index", int64_t(m.shard_k)},
                  {"shard_count", int64_t(m.shard_n)},
                  {"study_toml", m.study_toml},
                  {"policy_toml", m.policy_toml},
                  {"policy_source", m.policy_source}});
    w.close();
  }
}

void require_own_results(const std::string& path, const std::string& fingerprint) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;
  std::string found;
  try {
    h5::Reader f(path);
    if (f.has_attr("/", "schema") && f.attr_string("/", "schema") == "xbar-study" && f.has_attr("/", "fingerprint"))
      found = f.attr_string("/", "fingerprint");
  } catch (const FileError&) {
  }
  if (found == fingerprint) return;
  throw FileError(path + (found.empty() ? ": exists and is not an xbar study results file"
                                        : ": results of a different study definition (model, policy, task or grid changed)") +
                  "; delete it or choose another study.output");
}

Results read_h5(const std::string& path) {
  h5::Reader f(path);
  if (!f.has_attr("/", "schema") || f.attr_string("/", "schema") != "xbar-study")
    throw FileError(path + ": not an xbar study results file (attribute schema != xbar-study)");
  if (!f.has_attr("/", "model_sha256"))
    throw FileError(path + ": no provenance (attribute model_sha256 missing): written by an older xbar; run the study again");
  Results r;
  ResultsMeta& m = r.meta;
  m.fingerprint = f.attr_string("/", "fingerprint");
  m.xbar_version = f.attr_string("/", "xbar_version");
  m.model = f.attr_string("/", "model");
  m.model_sha256 = f.attr_string("/", "model_sha256");
  m.task = f.attr_string("/", "task");
  if (f.has_attr("/", "data")) {  // files without them evaluated the default data
    m.data_dir = f.attr_string("/", "data_dir");
    m.data = f.attr_string("/", "data");
  }
  m.samples = int64_t(f.attr_double("/", "samples"));
  m.context = int64_t(f.attr_double("/", "context"));
  m.metric_name = f.attr_string("/", "metric");
  m.float_metric = f.attr_double("/", "float_metric");
  m.points_total = int64_t(f.attr_double("/", "points_total"));
  m.shard_k = int(f.attr_double("/", "shard_index"));
  m.shard_n = int(f.attr_double("/", "shard_count"));
  m.study_toml = f.attr_string("/", "study_toml");
  m.policy_toml = f.attr_string("/", "policy_toml");
  m.policy_source = f.attr_string("/", "policy_source");
  m.grid_keys = f.read_strings("grid_keys");
  const auto idx = f.read("index", 1).data, rep = f.read("repeat", 1).data, seed = f.read("seed", 1).data;
  const auto met = f.read("metric", 1, false).data, sat = f.read("saturation_fraction", 1, false).data;
  const auto cfgs = f.read_strings("config_toml"), dev = f.read_strings("device_sha256");
  std::vector<std::vector<std::string>> vals;
  for (const auto& k : m.grid_keys) vals.push_back(f.read_strings("/grid/" + k));
  const size_t n = idx.size();
  auto check = [&](size_t size, const std::string& name) {
    if (size != n)
      throw FileError(path + ": dataset " + name + " has " + std::to_string(size) + " entries, index has " +
                      std::to_string(n));
  };
  check(rep.size(), "repeat"), check(seed.size(), "seed"), check(met.size(), "metric");
  check(sat.size(), "saturation_fraction"), check(cfgs.size(), "config_toml"), check(dev.size(), "device_sha256");
  for (size_t k = 0; k < vals.size(); ++k) check(vals[k].size(), "/grid/" + m.grid_keys[k]);
  // Cost columns: absent in files written without them (zero cost).
  std::vector<double> cost[3];
  const char* cost_names[3] = {"energy_pJ", "latency_ns", "area_mm2"};
  for (int k = 0; k < 3; ++k)
    if (f.has(cost_names[k])) {
      cost[k] = f.read(cost_names[k], 1, false).data;
      check(cost[k].size(), cost_names[k]);
    }
  for (size_t i = 0; i < n; ++i) {
    ResultRow row;
    row.index = int64_t(idx[i]);
    row.repeat = int(rep[i]);
    row.seed = int64_t(seed[i]);
    row.metric = met[i];
    row.saturation = sat[i];
    if (!cost[0].empty()) row.cost.energy_pJ = cost[0][i];
    if (!cost[1].empty()) row.cost.latency_ns = cost[1][i];
    if (!cost[2].empty()) row.cost.area_mm2 = cost[2][i];
    row.config_toml = cfgs[i];
    row.device_sha256 = dev[i];
    for (const auto& v : vals) row.values.push_back(v[i]);
    if (row.index < 0 || row.index >= m.points_total || r.rows.count(row.index))
      throw FileError(path + ": dataset index has an invalid or repeated point " + std::to_string(row.index));
    r.rows[row.index] = row;
  }
  return r;
}

}  // namespace xbar
