#include "devices/device_file.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <sstream>

#include <map>
#include <set>

#include "common/error.h"
#include "common/fields.h"
#include "common/h5io.h"
#include "devices/device_schema.h"
#include "devices/table_device.h"

namespace xbar {

// The bounds keep the engine's float32 arithmetic finite: conductance x sigma and conductance x
// voltage stay below 1e15, far from float32's 3.4e38, and exponents below 1e3 keep power laws of
// times up to 1e12 s representable.
double max_plausible_magnitude(const std::string& units) {
  if (units == "uS") return 1e6;  // 1 S: 10^3 above any memory device
  if (units == "s") return 1e12;  // ~31,700 years
  return 1e3;                     // "1" (exponents, rates), "V"
}

const char* magnitude_meaning(const std::string& units) {
  if (units == "uS") return " uS (1 S): implausible for a device (units off by 10^6?) and unsafe for float32 arithmetic";
  if (units == "s") return " s: implausible";
  return ": implausible";
}

namespace {

using device_schema::kSchema;
using device_schema::kVersion;

std::string num(double v) { return format_double(v); }

// Strips the "file: " prefix of h5io messages (the validator names the file once).
std::string strip_file(const std::string& msg, const std::string& path) {
  std::string m = msg;
  if (m.rfind(path + ": ", 0) == 0) m = m.substr(path.size() + 2);
  return m;
}

std::string describe_failure(const std::string& msg, const std::string& path) {
  std::string m = strip_file(msg, path);
  const std::string d = h5::error_detail();  // "incorrect metadata checksum ...": corrupted
  if (d.find("checksum") != std::string::npos || d.find("truncated") != std::string::npos ||
      d.find("corrupt") != std::string::npos || d.find("bad") != std::string::npos)
    m += " [HDF5: " + d + "; the file is corrupted]";
  else if (!d.empty() && m.find(d) == std::string::npos)
    m += " [HDF5: " + d + "]";
  return m;
}

class Checker {
 public:
  Checker(const h5::Reader& r, std::vector<FileProblem>& p) : r_(r), p_(p) {}

  void add(const std::string& where, const std::string& what) { p_.push_back({where, what}); }
  size_t count() const { return p_.size(); }

  bool exists(const std::string& path) {
    try {
      return r_.has(path);
    } catch (const std::exception& e) {
      add(path, describe_failure(e.what(), r_.path()));
      return false;
    }
  }

  // A group that must be a group if present; returns its children (nullopt when absent/broken).
  std::optional<std::vector<std::string>> group(const std::string& path, bool required) {
    if (!exists(path)) {
      if (required) add(path, "required group is missing");
      return std::nullopt;
    }
    try {
      return r_.children(path);
    } catch (const std::exception& e) {
      add(path, "is not a readable group (" + describe_failure(e.what(), r_.path()) + ")");
      return std::nullopt;
    }
  }

  // A numeric dataset of the given rank (0: scalar, also accepted as shape (1)); checks the
  // units attribute and finiteness. Returns nullopt when missing or unusable.
  std::optional<h5::Array> dataset(const std::string& path, bool required, const std::string& units, int rank) {
    if (!exists(path)) {
      if (required) add(path, "required dataset is missing");
      return std::nullopt;
    }
    h5::Array a;
    try {
      a = r_.read(path, -1, false);
    } catch (const std::exception& e) {
      add(path, describe_failure(e.what(), r_.path()));
      return std::nullopt;
    }
    units_attr(path, units);
    const size_t nd = a.shape.size();
    const bool rank_ok = rank == 0 ? (nd == 0 || (nd == 1 && a.shape[0] == 1)) : int(nd) == rank;
    if (!rank_ok) {
      std::string shape = "(";
      for (size_t i = 0; i < nd; ++i) shape += (i ? ", " : "") + std::to_string(a.shape[i]);
      shape += nd == 1 ? ",)" : ")";
      add(path, "has rank " + std::to_string(nd) + " shape " + shape + ", expected " +
                    (rank == 0 ? std::string("a scalar") : "rank " + std::to_string(rank)));
      return std::nullopt;
    }
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < a.data.size(); ++i)
      if (!std::isfinite(a.data[i]) && bad++ == 0) first = i;
    if (bad) {
      add(path, std::to_string(bad) + " non-finite value(s) (NaN/Inf), first " + num(a.data[first]) +
                    " at flat index " + std::to_string(first));
      return std::nullopt;
    }
    return a;
  }

  void units_attr(const std::string& path, const std::string& units) {
    try {
      if (!r_.has_attr(path, "units")) {
        add(path + "@units", "missing units attribute (expected \"" + units + "\")");
        return;
      }
      std::string u = r_.attr_string(path, "units");
      if (u != units)
        add(path + "@units", "is \"" + u + "\", expected \"" + units + "\"" +
                                 (units == "uS" ? " (convert on import: xbar device import --units S|uS)" : ""));
    } catch (const std::exception& e) {
      add(path + "@units", strip_file(e.what(), r_.path()));
    }
  }

  std::optional<std::string> str_attr(const std::string& obj, const std::string& name, bool required) {
    const std::string where = (obj == "/" ? "/" : obj) + "@" + name;
    try {
      if (!r_.has_attr(obj, name)) {
        if (required) add(where, "required attribute is missing");
        return std::nullopt;
      }
      return r_.attr_string(obj, name);
    } catch (const std::exception& e) {
      add(where, describe_failure(e.what(), r_.path()));
      return std::nullopt;
    }
  }

  std::optional<double> num_attr(const std::string& obj, const std::string& name, bool required) {
    const std::string where = (obj == "/" ? "/" : obj) + "@" + name;
    try {
      if (!r_.has_attr(obj, name)) {
        if (required) add(where, "required attribute is missing");
        return std::nullopt;
      }
      double v = r_.attr_double(obj, name);
      if (!std::isfinite(v)) {
        add(where, "is not finite (" + num(v) + ")");
        return std::nullopt;
      }
      return v;
    } catch (const std::exception& e) {
      add(where, describe_failure(e.what(), r_.path()));
      return std::nullopt;
    }
  }

  void unknown_children(const std::string& group, const std::vector<std::string>& children,
                        const std::vector<std::string>& known) {
    for (const auto& c : children) {
      if (std::find(known.begin(), known.end(), c) != known.end()) continue;
      std::string hint = closest_name(c, known);
      add(group + "/" + c, "unknown object" + (hint.empty() ? std::string() : " (did you mean " + hint + "?)") +
                               "; put extra material under /extra");
    }
  }

 private:
  const h5::Reader& r_;
  std::vector<FileProblem>& p_;
};

// Strictly increasing grid check: names the first offending pair.
bool check_grid(Checker& c, const std::string& path, const std::vector<double>& g) {
  if (g.empty()) {
    c.add(path, "is empty (needs at least one point)");
    return false;
  }
  for (size_t i = 1; i < g.size(); ++i) {
    if (g[i] == g[i - 1]) {
      c.add(path, "has a duplicate value " + num(g[i]) + " at indices " + std::to_string(i - 1) + " and " +
                      std::to_string(i) + " (grid must be strictly increasing)");
      return false;
    }
    if (g[i] < g[i - 1]) {
      c.add(path, "is not sorted: [" + std::to_string(i - 1) + "] = " + num(g[i - 1]) + " > [" + std::to_string(i) +
                      "] = " + num(g[i]) + " (grid must be strictly increasing)");
      return false;
    }
  }
  return true;
}

void check_nonneg(Checker& c, const std::string& path, const std::vector<double>& v) {
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] < 0 && bad++ == 0) first = i;
  if (bad)
    c.add(path, std::to_string(bad) + " negative value(s), first " + num(v[first]) + " at index " +
                    std::to_string(first) + " (must be >= 0)");
}

void check_magnitude(Checker& c, const std::string& path, const std::string& units, const std::vector<double>& v) {
  if (units.empty()) return;  // counts, versions
  const double m = max_plausible_magnitude(units);
  for (size_t i = 0; i < v.size(); ++i)
    if (std::abs(v[i]) > m) {
      c.add(path, "value " + num(v[i]) + (v.size() > 1 ? " at index " + std::to_string(i) : std::string()) +
                      " exceeds " + num(m) + magnitude_meaning(units));
      return;
    }
}

bool check_len(Checker& c, const std::string& path, size_t n, const std::string& grid, size_t want) {
  if (n == want) return true;
  c.add(path, "has " + std::to_string(n) + " entries but " + grid + " has " + std::to_string(want));
  return false;
}

}  // namespace

namespace {

namespace ds = device_schema;

int rank_of(ds::Type t) { return t == ds::Type::real ? 0 : t == ds::Type::vector ? 1 : 2; }

// Reads every object the schema table lists for one present group, checks its own rules, and
// stores the valid ones into t; `got` collects the object paths stored.
void read_group(Checker& c, const std::string& group, DeviceTables& t, std::set<std::string>& got) {
  std::map<std::string, size_t> sizes;  // datasets of this group read, by name: their row count
  for (const auto& e : ds::table()) {
    if (e.kind == ds::Kind::group || group != e.group || !e.set) continue;
    const std::string path = ds::object_path(e);
    const bool required = e.needed && e.needed(t);
    const size_t before = c.count();
    ds::Value v;
    if (e.kind == ds::Kind::dataset) {
      auto a = c.dataset(path, required, e.units, rank_of(e.type));
      if (!a) continue;
      sizes[e.name] = a->rows();
      check_magnitude(c, path, e.units, a->data);
      if (e.rules & ds::kGrid) check_grid(c, path, a->data);
      if (e.rules & ds::kNonneg) check_nonneg(c, path, a->data);
      if ((e.rules & ds::kProbability) && (a->data[0] < 0 || a->data[0] > 1))
        c.add(path, "must be in [0, 1] (is " + num(a->data[0]) + ")");
      if (e.same_length_as && sizes.count(e.same_length_as)) {
        const size_t want = sizes[e.same_length_as];
        if (e.type == ds::Type::matrix && a->cols() < 1)
          c.add(path, "has no samples per level (N = 0)");
        else if (e.type == ds::Type::matrix && a->rows() != want)
          c.add(path, "has " + std::to_string(a->rows()) + " rows (levels) but " + e.same_length_as + " has " +
                          std::to_string(want));
        else if (e.type != ds::Type::matrix)
          check_len(c, path, a->data.size(), e.same_length_as, want);
      }
      if (e.type == ds::Type::real) v = a->data[0];
      else if (e.type == ds::Type::vector) v = a->data;
      else v = ds::Matrix{a->data, a->cols()};
    } else if (e.type == ds::Type::text) {
      auto x = c.str_attr("/" + std::string(e.group), e.name, required);
      if (!x) continue;
      const auto& ms = ds::time_models();
      if ((e.rules & ds::kTimeModel) && std::find(ms.begin(), ms.end(), *x) == ms.end())
        c.add(path, "is \"" + *x + "\", expected none, pcm_1f or power");
      v = *x;
    } else {
      auto x = c.num_attr("/" + std::string(e.group), e.name, required);
      if (!x && (e.rules & ds::kFlag)) x = 0.0;  // an absent flag is 0
      if (!x) continue;
      if ((e.rules & ds::kPositive) && *x <= 0) c.add(path, "must be > 0 (is " + num(*x) + ")");
      if (!(e.rules & ds::kFlag)) check_magnitude(c, path, e.units, {*x});
      if ((e.rules & ds::kFlag) && *x != 0 && *x != 1) c.add(path, "must be 0 or 1 (is " + num(*x) + ")");
      v = *x;
    }
    if (c.count() != before) continue;
    e.set(t, v);
    got.insert(path);
  }
}

}  // namespace

std::vector<FileProblem> validate_device_file(const std::string& path, DeviceTables* out) {
  std::vector<FileProblem> p;
  DeviceTables t;
  std::unique_ptr<h5::Reader> rp;
  try {
    rp = std::make_unique<h5::Reader>(path);
  } catch (const std::exception& e) {
    p.push_back({"(file)", describe_failure(e.what(), path) +
                               " (truncated or corrupted files cannot be opened; regenerate or re-import)"});
    return p;
  }
  Checker c(*rp, p);
  std::set<std::string> got;

  // Groups: the required ones, unknown objects (did-you-mean) in each, then their contents.
  auto root_children = c.group("/", true);
  if (!root_children) return p;  // nothing else is readable; further problems would be noise
  std::vector<std::string> groups;
  for (const auto& e : ds::table())
    if (e.kind == ds::Kind::group && *e.name) groups.push_back(e.name);
  c.unknown_children("", *root_children, groups);
  for (const auto& e : ds::table()) {
    if (e.kind != ds::Kind::group) continue;
    const std::string g = e.name;
    if (!g.empty()) {
      auto ch = c.group("/" + g, ds::required_group(e));
      if (!ch) continue;
      if (g == "extra") continue;  // free-form
      if (g != "provenance") {
        std::vector<std::string> known;
        for (const auto& d : ds::table())
          if (d.kind == ds::Kind::dataset && g == d.group) known.push_back(d.name);
        c.unknown_children("/" + g, *ch, known);
      }
    }
    read_group(c, g, t, got);
  }

  // Root: fixed values and what the table cannot say about single objects.
  if (auto s = c.str_attr("/", "schema", true); s && *s != kSchema)
    c.add("/@schema", "is \"" + *s + "\", expected \"" + kSchema + "\" (not an xbar device file)");
  if (auto v = c.num_attr("/", "schema_version", true); v && *v != kVersion)
    c.add("/@schema_version", "unknown schema version " + num(*v) + " (this xbar reads version " +
                                  std::to_string(kVersion) + ")");
  if (got.count("/@name") && t.name.empty()) c.add("/@name", "is empty");
  if (got.count("/@technology") && t.technology.empty())
    c.add("/@technology", "is empty (pcm, rram, sonos, fefet, sram, ideal, ...)");
  if (t.source.empty() && t.citation.empty())
    c.add("/@source", "neither source nor citation is given (say where the numbers come from)");

  // Rules between objects.
  const bool range = got.count("/conductance/g_min_uS") && got.count("/conductance/g_max_uS");
  if (got.count("/conductance/g_min_uS") && t.g_min_uS < 0)
    c.add("/conductance/g_min_uS", "is negative (" + num(t.g_min_uS) + ")");
  if (range && !(t.g_min_uS < t.g_max_uS))
    c.add("/conductance/g_max_uS", "g_min_uS = " + num(t.g_min_uS) + " must be below g_max_uS = " + num(t.g_max_uS));
  if (got.count("/conductance/levels_uS")) {
    if (t.levels_uS.size() < 2) c.add("/conductance/levels_uS", "needs at least 2 levels (omit it for a continuous device)");
    if (range && (t.levels_uS.front() < t.g_min_uS - 1e-9 * t.g_max_uS ||
                  t.levels_uS.back() > t.g_max_uS + 1e-9 * t.g_max_uS))
      c.add("/conductance/levels_uS", "levels span [" + num(t.levels_uS.front()) + ", " + num(t.levels_uS.back()) +
                                          "] outside [g_min_uS, g_max_uS] = [" + num(t.g_min_uS) + ", " +
                                          num(t.g_max_uS) + "]");
  }
  if (c.exists("/programming") && !c.exists("/programming/sigma_uS") && !c.exists("/programming/samples_uS"))
    c.add("/programming", "needs sigma_uS (table) or samples_uS (raw samples), has neither");
  if (c.exists("/read_noise") && t.read_time_model == "pcm_1f" && t.read_t_ref_s <= t.read_t_read_s)
    c.add("/read_noise@t_ref_s", "must exceed t_read_s for time_model pcm_1f (the 1/f factor is 0 at t_ref)");
  if (got.count("/faults/stuck_at_gmin_rate") && got.count("/faults/stuck_at_gmax_rate") &&
      t.stuck_at_gmin_rate + t.stuck_at_gmax_rate > 1)
    c.add("/faults/stuck_at_gmax_rate", "stuck-at rates add up to more than 1");

  // Provenance inputs: input_K_name, input_K_role, input_K_sha256 for K < n_inputs.
  if (c.exists("/provenance") && c.group("/provenance", false)) {
    if (auto n = c.num_attr("/provenance", "n_inputs", false)) {
      if (*n < 0 || *n > 1000 || std::floor(*n) != *n)
        c.add("/provenance@n_inputs", "must be a count 0..1000 (is " + num(*n) + ")");
      else
        for (int k = 0; k < int(*n); ++k) {
          const std::string pre = "input_" + std::to_string(k) + "_";
          DeviceInput in;
          if (auto s = c.str_attr("/provenance", pre + "name", true)) in.name = *s;
          if (auto s = c.str_attr("/provenance", pre + "role", false)) in.role = *s;
          if (auto s = c.str_attr("/provenance", pre + "sha256", true)) {
            in.sha256 = *s;
            if (s->size() != 64 || s->find_first_not_of("0123456789abcdef") != std::string::npos)
              c.add("/provenance@" + pre + "sha256", "is not 64 lowercase hex digits");
          }
          t.inputs.push_back(in);
        }
    }
  }

  if (out) *out = std::move(t);
  return p;
}

std::string format_problems(const std::string& path, const std::vector<FileProblem>& problems) {
  std::ostringstream os;
  os << path << ": " << problems.size() << " problem" << (problems.size() == 1 ? "" : "s") << ":";
  for (const auto& q : problems) os << "\n  " << q.where << ": " << q.what;
  return os.str();
}

DeviceTables read_device_file(const std::string& path) {
  DeviceTables t;
  auto p = validate_device_file(path, &t);
  if (!p.empty()) throw FileError(format_problems(path, p));
  return t;
}

void write_device_file(const std::string& path, const DeviceTables& t) {
  {
    h5::Writer w(path, h5::Format::checksummed);
    bool group_written = true;
    for (const auto& e : device_schema::table()) {
      const std::string obj = device_schema::object_path(e);
      if (e.kind == device_schema::Kind::group) {
        group_written = e.needed && e.needed(t);
        if (group_written && *e.name) w.group(obj);
        continue;
      }
      if (!group_written || !e.get) continue;
      const device_schema::Value v = e.get(t);
      const std::string parent = "/" + std::string(e.group);
      if (const auto* s = std::get_if<std::string>(&v)) w.attr(parent, e.name, *s);
      else if (const auto* i = std::get_if<int64_t>(&v)) w.attr(parent, e.name, *i);
      else if (const auto* d = std::get_if<double>(&v)) {
        if (e.kind == device_schema::Kind::attribute) w.attr(parent, e.name, *d);
        else w.write(obj, std::vector<double>{*d}, {});
      } else if (const auto* x = std::get_if<std::vector<double>>(&v)) {
        w.write(obj, *x, {x->size()});
      } else if (const auto* m = std::get_if<device_schema::Matrix>(&v)) {
        w.write(obj, m->data, {m->data.size() / m->cols, m->cols});
      }
      if (e.kind == device_schema::Kind::dataset && !std::holds_alternative<std::monostate>(v))
        w.attr(obj, "units", std::string(e.units));
    }
    for (size_t k = 0; k < t.inputs.size(); ++k) {
      const std::string pre = "input_" + std::to_string(k) + "_";
      w.attr("/provenance", pre + "name", t.inputs[k].name);
      if (!t.inputs[k].role.empty()) w.attr("/provenance", pre + "role", t.inputs[k].role);
      w.attr("/provenance", pre + "sha256", t.inputs[k].sha256);
    }
    // Validated before it replaces anything at path.
    w.close([&](const std::string& written) {
      auto p = validate_device_file(written);
      if (!p.empty()) throw FileError("refusing to write an invalid device file: " + format_problems(path, p));
    });
  }
}

std::string iso_date_utc() {
  std::time_t now = std::time(nullptr);
  if (const char* e = std::getenv("SOURCE_DATE_EPOCH")) now = std::time_t(std::strtoll(e, nullptr, 10));
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::unique_ptr<DeviceModel> load_device_file(const DeviceConfig& cfg) {
  DeviceTables t = read_device_file(cfg.file);
  return std::make_unique<TableDevice>(std::move(t), cfg.stuck_at_gmin_rate, cfg.stuck_at_gmax_rate);
}

}  // namespace xbar
