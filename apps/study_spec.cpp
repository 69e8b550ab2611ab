#include "apps/study_spec.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/fields.h"
#include "common/sha256.h"
#include "engine/config_toml.h"

namespace xbar {

namespace {

// Far beyond any study that can finish (2,400 points is a large one), small enough to list.
constexpr uint64_t kMaxStudyPoints = 1000000;
const std::vector<std::string> kStudyKeys = {"model", "task", "policy", "output", "repeats", "samples", "context", "hardware", "data"};

std::string node_text(const toml::node& n, const std::string& where) {
  if (auto v = n.as_integer()) return std::to_string(v->get());
  if (auto v = n.as_floating_point()) return format_double(v->get());
  if (auto v = n.as_boolean()) return v->get() ? "true" : "false";
  if (auto v = n.as_string()) return v->get();
  throw ConfigError(where, "?", "grid values must be numbers, booleans or strings");
}

}  // namespace

std::string read_whole_file(const std::string& path, const std::string& what) {
  require_regular_file(path, what);
  std::ifstream f(path, std::ios::binary);
  if (!f) throw FileError(path + ": cannot open " + what);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Assignments point_assignments(const StudySpec& s, const std::vector<std::string>& values) {
  Assignments a;
  for (size_t k = 0; k < s.grid.size(); ++k) a.push_back({s.grid[k].first, FieldValue(values[k])});
  return a;
}

Policy point_policy(const Policy& base, const StudySpec& s, const std::vector<std::string>& values) {
  Policy p = base;
  apply_assignments(p.defaults, point_assignments(s, values));
  p.defaults.validate();
  return p;
}


StudySpec load_study(const std::string& path) { return parse_study(read_whole_file(path, "study file"), path); }

StudySpec parse_study(const std::string& text, const std::string& path) {
  StudySpec s;
  s.source = path;
  const toml::table root = parse_toml(text, path);
  for (const auto& [k, v] : root) {
    const std::string key(k.str());
    if (key != "study" && key != "grid") {
      const std::string hint = closest_name(key, {"study", "grid"});
      throw ConfigError(key, "?", path + ": unknown table" + (hint.empty() ? "" : " (did you mean [" + hint + "]?)"));
    }
  }
  const toml::table* st = root.get_as<toml::table>("study");
  if (!st) throw ConfigError("study", "?", path + ": missing [study] table");
  for (const auto& [k, v] : *st) {
    const std::string key(k.str());
    if (std::find(kStudyKeys.begin(), kStudyKeys.end(), key) == kStudyKeys.end()) {
      const std::string hint = closest_name(key, kStudyKeys);
      throw ConfigError("study." + key, "?", path + ": unknown key" + (hint.empty() ? "" : " (did you mean study." + hint + "?)"));
    }
  }
  auto req = [&](const char* key) {
    auto v = (*st)[key].value<std::string>();
    if (!v || v->empty()) throw ConfigError(std::string("study.") + key, "?", path + ": required string is missing");
    return *v;
  };
  s.model = req("model");
  const std::string task = req("task");
  try {
    s.task = parse_enum<Task>("study.task", task);
  } catch (const ConfigError& e) {
    throw FileError(path + ": " + e.what());  // e names key and value: add only the file
  }
  s.policy = req("policy");
  s.output = req("output");
  auto integer = [&](const char* key, int64_t def, int64_t lo, int64_t hi) {
    const toml::node* n = st->get(key);
    if (!n) return def;
    if (!n->is_integer()) throw ConfigError(std::string("study.") + key, "?", path + ": expected an integer");
    const int64_t v = n->as_integer()->get();
    if (v < lo || v > hi)
      throw ConfigError(std::string("study.") + key, std::to_string(v),
                        path + ": must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v;
  };
  s.repeats = int(integer("repeats", 3, 1, 100000));
  s.samples = integer("samples", 0, 0, int64_t(1) << 40);
  s.context = integer("context", 0, 0, 1 << 20);
  if (const toml::node* h = st->get("hardware")) {
    if (!h->is_string()) throw ConfigError("study.hardware", "?", path + ": expected a file name");
    s.hardware = h->as_string()->get();
  }
  const Policy base = load_policy(s.policy);
  if (const toml::node* g = root.get("grid")) {
    if (!g->is_table()) throw ConfigError("grid", "?", path + ": [grid] must be a table of key = [values]");
    for (const auto& [k, v] : *g->as_table()) {
      const std::string key(k.str());
      const toml::array* arr = v.as_array();
      if (!arr || arr->empty()) throw ConfigError("grid." + key, "?", path + ": expected a non-empty array of values");
      std::vector<std::string> vals;
      for (const auto& n : *arr) vals.push_back(node_text(n, "grid." + key));
      s.grid.emplace_back(key, vals);
    }
  }
  // study_points() materialises every point: bound the product before it can exhaust memory.
  uint64_t points = uint64_t(s.repeats);
  for (const auto& [k, vs] : s.grid) {
    points *= vs.size();
    if (points > kMaxStudyPoints)
      throw ConfigError("grid." + k, std::to_string(vs.size()) + " values",
                        path + ": the study would have more than " + std::to_string(kMaxStudyPoints) +
                            " points (grid sizes x repeats); split it");
  }
  // Check every grid value against the config (unknown keys, out-of-range values) before running.
  for (size_t k = 0; k < s.grid.size(); ++k)
    for (const auto& v : s.grid[k].second) {
      XbarConfig c = base.defaults;
      try {
        set_key(c, s.grid[k].first, v);
        c.validate();
      } catch (const ConfigError& e) {
        throw FileError(path + ": [grid] " + e.what());
      }
    }
  std::string canon = "task=" + std::string(enum_name(s.task)) + "\nsamples=" + std::to_string(s.samples) + "\ncontext=" +
                      std::to_string(s.context) + "\nrepeats=" + std::to_string(s.repeats) + "\n";
  for (const auto& [k, vs] : s.grid) {
    canon += k + "=";
    for (const auto& v : vs) canon += v + ";";
    canon += "\n";
  }
  canon += "policy=" + read_whole_file(s.policy, "policy") + "\nmodel=" + read_whole_file(s.model, "model");
  if (!s.hardware.empty()) canon += "\nhardware=" + read_whole_file(s.hardware, "hardware");
  s.fingerprint = s.fingerprint_without_data = sha256_hex(canon);
  if (const toml::node* d = st->get("data")) {
    if (!d->is_string()) throw ConfigError("study.data", "?", path + ": expected a directory of IDX image data");
    use_image_data(s, d->as_string()->get());
  }
  return s;
}

void use_image_data(StudySpec& s, const std::string& dir) {
  if (s.task != Task::fashion_mnist) throw ConfigError("data", dir, "applies to task fashion_mnist (image classification)");
  s.data = dir;
  // Absent for the default data: fingerprints of studies without `data` stay as they were.
  s.fingerprint = sha256_hex(s.fingerprint_without_data + "\ndata=" + dir);
}

std::vector<StudyPoint> study_points(const StudySpec& s) {
  std::vector<StudyPoint> pts;
  std::vector<size_t> at(s.grid.size(), 0);
  while (true) {
    for (int r = 0; r < s.repeats; ++r) {
      StudyPoint p;
      p.index = int64_t(pts.size());
      for (size_t k = 0; k < s.grid.size(); ++k) p.values.push_back(s.grid[k].second[at[k]]);
      p.repeat = r;
      pts.push_back(p);
    }
    // Odometer over the grid, last key fastest.
    size_t k = s.grid.size();
    while (k > 0 && ++at[k - 1] == s.grid[k - 1].second.size()) at[--k] = 0;
    if (k == 0) break;
  }
  return pts;
}

}  // namespace xbar
