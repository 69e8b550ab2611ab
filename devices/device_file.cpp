#include "devices/device_file.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <sstream>

#include "common/error.h"
#include "common/fields.h"
#include <hdf5.h>

#include "common/h5io.h"
#include "devices/table_device.h"

namespace xbar {

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

// The innermost messages of HDF5's current error stack ("incorrect metadata checksum ..."), so a
// corrupted file is reported as such rather than as a missing or mistyped object.
std::string hdf5_error_detail() {
  std::string out;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
        auto* s = static_cast<std::string*>(data);
        if (n == 0 && e->desc) *s = e->desc;
        return 0;
      },
      &out);
  return out;
}

std::string describe_failure(const std::string& msg, const std::string& path) {
  std::string m = strip_file(msg, path);
  const std::string d = hdf5_error_detail();
  if (d.find("checksum") != std::string::npos || d.find("truncated") != std::string::npos ||
      d.find("corrupt") != std::string::npos || d.find("bad") != std::string::npos)
    m += " [HDF5: " + d + "; the file is corrupted]";
  else if (!d.empty() && m.find(d) == std::string::npos)
    m += " [HDF5: " + d + "]";
  return m;
}

// Known contents of each group (for "unknown dataset" problems with a did-you-mean hint).
const std::vector<std::pair<std::string, std::vector<std::string>>>& known_layout() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> k = {
      {"conductance", {"g_min_uS", "g_max_uS", "levels_uS"}},
      {"programming", {"g_target_uS", "sigma_uS", "samples_uS"}},
      {"read_noise", {"g_uS", "sigma_uS"}},
      {"drift", {"g_uS", "nu_mean", "nu_std"}},
      {"faults", {"stuck_at_gmin_rate", "stuck_at_gmax_rate"}},
      {"iv", {"v_V", "i_per_g"}},
      {"provenance", {}},
      {"extra", {}},  // free-form user material, ignored
  };
  return k;
}

class Checker {
 public:
  Checker(const h5::Reader& r, std::vector<FileProblem>& p) : r_(r), p_(p) {}

  void add(const std::string& where, const std::string& what) { p_.push_back({where, what}); }

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

bool check_len(Checker& c, const std::string& path, size_t n, const std::string& grid, size_t want) {
  if (n == want) return true;
  c.add(path, "has " + std::to_string(n) + " entries but " + grid + " has " + std::to_string(want));
  return false;
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
  const h5::Reader& r = *rp;
  Checker c(r, p);

  // --- root ---
  auto root_children = c.group("/", true);
  if (!root_children) return p;  // nothing else is readable; further problems would be noise
  if (auto s = c.str_attr("/", "schema", true); s && *s != kSchema)
    c.add("/@schema", "is \"" + *s + "\", expected \"" + kSchema + "\" (not an xbar device file)");
  if (auto v = c.num_attr("/", "schema_version", true); v && *v != kVersion)
    c.add("/@schema_version", "unknown schema version " + num(*v) + " (this xbar reads version " +
                                  std::to_string(kVersion) + ")");
  if (auto s = c.str_attr("/", "name", true)) {
    if (s->empty()) c.add("/@name", "is empty");
    t.name = *s;
  }
  if (auto s = c.str_attr("/", "technology", true)) {
    if (s->empty()) c.add("/@technology", "is empty (pcm, rram, sonos, fefet, sram, ideal, ...)");
    t.technology = *s;
  }
  auto src = c.str_attr("/", "source", false);
  auto cit = c.str_attr("/", "citation", false);
  if ((!src || src->empty()) && (!cit || cit->empty()))
    c.add("/@source", "neither source nor citation is given (say where the numbers come from)");
  if (src) t.source = *src;
  if (cit) t.citation = *cit;
  if (auto s = c.str_attr("/", "description", false)) t.description = *s;
  {
    std::vector<std::string> known;
    for (const auto& k : known_layout()) known.push_back(k.first);
    c.unknown_children("", *root_children, known);
  }
  for (const auto& [g, names] : known_layout()) {
    if (g == "provenance" || g == "extra") continue;
    if (auto ch = c.group("/" + g, g == "conductance")) c.unknown_children("/" + g, *ch, names);
  }

  // --- /conductance ---
  auto gmin = c.dataset("/conductance/g_min_uS", true, "uS", 0);
  auto gmax = c.dataset("/conductance/g_max_uS", true, "uS", 0);
  if (gmin) {
    t.g_min_uS = gmin->data[0];
    if (t.g_min_uS < 0) c.add("/conductance/g_min_uS", "is negative (" + num(t.g_min_uS) + ")");
  }
  if (gmax) t.g_max_uS = gmax->data[0];
  if (gmin && gmax && !(t.g_min_uS < t.g_max_uS))
    c.add("/conductance/g_max_uS", "g_min_uS = " + num(t.g_min_uS) + " must be below g_max_uS = " + num(t.g_max_uS));
  if (auto lv = c.dataset("/conductance/levels_uS", false, "uS", 1)) {
    t.levels_uS = lv->data;
    if (check_grid(c, "/conductance/levels_uS", t.levels_uS)) {
      if (t.levels_uS.size() < 2) c.add("/conductance/levels_uS", "needs at least 2 levels (omit it for a continuous device)");
      check_nonneg(c, "/conductance/levels_uS", t.levels_uS);
      if (gmin && gmax && (t.levels_uS.front() < t.g_min_uS - 1e-9 * t.g_max_uS ||
                           t.levels_uS.back() > t.g_max_uS + 1e-9 * t.g_max_uS))
        c.add("/conductance/levels_uS", "levels span [" + num(t.levels_uS.front()) + ", " + num(t.levels_uS.back()) +
                                            "] outside [g_min_uS, g_max_uS] = [" + num(t.g_min_uS) + ", " +
                                            num(t.g_max_uS) + "]");
    }
  }

  // --- /programming ---
  if (c.exists("/programming")) {
    auto g = c.dataset("/programming/g_target_uS", true, "uS", 1);
    auto s = c.dataset("/programming/sigma_uS", false, "uS", 1);
    auto smp = c.dataset("/programming/samples_uS", false, "uS", 2);
    if (!c.exists("/programming/sigma_uS") && !c.exists("/programming/samples_uS"))
      c.add("/programming", "needs sigma_uS (table) or samples_uS (raw samples), has neither");
    bool gok = g && check_grid(c, "/programming/g_target_uS", g->data);
    if (gok) t.prog_g_uS = g->data;
    if (s) {
      check_nonneg(c, "/programming/sigma_uS", s->data);
      if (g && check_len(c, "/programming/sigma_uS", s->data.size(), "g_target_uS", g->data.size()))
        t.prog_sigma_uS = s->data;
    }
    if (smp) {
      if (smp->cols() < 1) c.add("/programming/samples_uS", "has no samples per level (N = 0)");
      else if (g && smp->rows() != g->data.size())
        c.add("/programming/samples_uS", "has " + std::to_string(smp->rows()) +
                                             " rows (levels) but g_target_uS has " + std::to_string(g->data.size()));
      else {
        t.prog_samples_uS = smp->data;
        t.prog_samples_n = smp->cols();
      }
    }
    if (!gok) t.prog_g_uS.clear(), t.prog_sigma_uS.clear(), t.prog_samples_uS.clear(), t.prog_samples_n = 0;
  }

  // --- /read_noise ---
  if (c.exists("/read_noise")) {
    auto g = c.dataset("/read_noise/g_uS", true, "uS", 1);
    auto s = c.dataset("/read_noise/sigma_uS", true, "uS", 1);
    bool ok = g && check_grid(c, "/read_noise/g_uS", g->data);
    if (s) {
      check_nonneg(c, "/read_noise/sigma_uS", s->data);
      if (g) ok = check_len(c, "/read_noise/sigma_uS", s->data.size(), "g_uS", g->data.size()) && ok;
    }
    if (ok && s) t.read_g_uS = g->data, t.read_sigma_uS = s->data;
    if (auto m = c.str_attr("/read_noise", "time_model", false)) {
      const auto& ms = device_schema::time_models();
      if (std::find(ms.begin(), ms.end(), *m) == ms.end())
        c.add("/read_noise@time_model", "is \"" + *m + "\", expected none, pcm_1f or power");
      else t.read_time_model = *m;
    }
    const bool timed = t.read_time_model != "none";
    if (auto v = c.num_attr("/read_noise", "t_ref_s", timed)) {
      if (*v <= 0) c.add("/read_noise@t_ref_s", "must be > 0 (is " + num(*v) + ")");
      else t.read_t_ref_s = *v;
    }
    if (auto v = c.num_attr("/read_noise", "t_read_s", t.read_time_model == "pcm_1f")) {
      if (*v <= 0) c.add("/read_noise@t_read_s", "must be > 0 (is " + num(*v) + ")");
      else t.read_t_read_s = *v;
    }
    if (t.read_time_model == "pcm_1f" && t.read_t_ref_s <= t.read_t_read_s)
      c.add("/read_noise@t_ref_s", "must exceed t_read_s for time_model pcm_1f (the 1/f factor is 0 at t_ref)");
    if (auto v = c.num_attr("/read_noise", "time_exponent", t.read_time_model == "power")) t.read_time_exponent = *v;
    if (auto v = c.num_attr("/read_noise", "scales_with_drift", false)) {
      if (*v != 0 && *v != 1) c.add("/read_noise@scales_with_drift", "must be 0 or 1 (is " + num(*v) + ")");
      t.read_scales_with_drift = *v == 1;
    } else {
      t.read_scales_with_drift = false;
    }
  }

  // --- /drift ---
  if (c.exists("/drift")) {
    auto g = c.dataset("/drift/g_uS", true, "uS", 1);
    auto m = c.dataset("/drift/nu_mean", true, "1", 1);
    auto s = c.dataset("/drift/nu_std", true, "1", 1);
    bool ok = g && check_grid(c, "/drift/g_uS", g->data);
    if (m && g) ok = check_len(c, "/drift/nu_mean", m->data.size(), "g_uS", g->data.size()) && ok;
    if (s) {
      check_nonneg(c, "/drift/nu_std", s->data);
      if (g) ok = check_len(c, "/drift/nu_std", s->data.size(), "g_uS", g->data.size()) && ok;
    }
    if (ok && m && s) t.drift_g_uS = g->data, t.drift_nu_mean = m->data, t.drift_nu_std = s->data;
    if (auto v = c.num_attr("/drift", "t0_s", true)) {
      if (*v <= 0) c.add("/drift@t0_s", "must be > 0 (is " + num(*v) + ")");
      else t.drift_t0_s = *v;
    }
  }

  // --- /faults ---
  if (c.exists("/faults")) {
    auto a = c.dataset("/faults/stuck_at_gmin_rate", true, "1", 0);
    auto b = c.dataset("/faults/stuck_at_gmax_rate", true, "1", 0);
    for (auto* x : {&a, &b}) {
      if (!*x) continue;
      double v = (*x)->data[0];
      const std::string where = x == &a ? "/faults/stuck_at_gmin_rate" : "/faults/stuck_at_gmax_rate";
      if (v < 0 || v > 1) c.add(where, "must be in [0, 1] (is " + num(v) + ")");
    }
    if (a) t.stuck_at_gmin_rate = a->data[0];
    if (b) t.stuck_at_gmax_rate = b->data[0];
    if (a && b && t.stuck_at_gmin_rate + t.stuck_at_gmax_rate > 1)
      c.add("/faults/stuck_at_gmax_rate", "stuck-at rates add up to more than 1");
  }

  // --- /iv ---
  if (c.exists("/iv")) {
    auto v = c.dataset("/iv/v_V", true, "V", 1);
    auto i = c.dataset("/iv/i_per_g", true, "V", 1);
    bool ok = v && check_grid(c, "/iv/v_V", v->data);
    if (i && v) ok = check_len(c, "/iv/i_per_g", i->data.size(), "v_V", v->data.size()) && ok;
    if (ok && i) t.iv_v_V = v->data, t.iv_i_per_g = i->data;
  }

  // --- /provenance ---
  if (c.exists("/provenance") && c.group("/provenance", false)) {
    if (auto s = c.str_attr("/provenance", "tool", false)) t.tool = *s;
    if (auto s = c.str_attr("/provenance", "tool_version", false)) t.tool_version = *s;
    if (auto s = c.str_attr("/provenance", "date", false)) t.date = *s;
    if (auto s = c.str_attr("/provenance", "method", false)) t.method = *s;
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

namespace {

// The device-file writer. It uses the HDF5 1.8+ file format, whose metadata (superblock, object
// headers, link and attribute storage) carries checksums, and keeps everything that HDF5 would
// otherwise parse without a checksum out of the file: strings are fixed-length attributes stored in
// the (checksummed) object headers rather than variable-length strings in the global heap, small
// datasets use compact layout (data inside the object header), larger ones a single chunk with
// the Fletcher-32 filter. Byte-level corruption is then reported by HDF5 as a checksum error
// instead of being parsed (a corrupted global-heap string length crashes HDF5 1.10).
struct H {
  hid_t id;
  herr_t (*close)(hid_t);
  H(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  H(const H&) = delete;
  H& operator=(const H&) = delete;
  ~H() {
    if (id >= 0) close(id);
  }
};

class DevWriter {
 public:
  explicit DevWriter(const std::string& path) : path_(path), fapl_(H5Pcreate(H5P_FILE_ACCESS), H5Pclose), f_(-1, H5Fclose) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    ok(H5Pset_libver_bounds(fapl_.id, H5F_LIBVER_V18, H5F_LIBVER_LATEST), "file access properties");
    f_.id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl_.id);
    if (f_.id < 0) throw FileError(path + ": cannot create file");
  }
  void group(const std::string& g) {
    H lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    H gr(H5Gcreate2(f_.id, g.c_str(), lcpl.id, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    ok(gr.id, g);
  }
  void dataset(const std::string& name, const std::vector<double>& v, const std::vector<size_t>& shape,
               const std::string& units) {
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    H sp(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
    ok(sp.id, name);
    H dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    const size_t bytes = v.size() * sizeof(double);
    if (dims.empty() || bytes <= 32768 || v.empty()) {
      ok(H5Pset_layout(dcpl.id, H5D_COMPACT), name);
    } else {
      ok(H5Pset_chunk(dcpl.id, int(dims.size()), dims.data()), name);
      ok(H5Pset_fletcher32(dcpl.id), name);
    }
    H ds(H5Dcreate2(f_.id, name.c_str(), H5T_IEEE_F64LE, sp.id, H5P_DEFAULT, dcpl.id, H5P_DEFAULT), H5Dclose);
    ok(ds.id, name);
    if (!v.empty()) ok(H5Dwrite(ds.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), name);
    attr(name, "units", units);
  }
  void attr(const std::string& obj, const std::string& name, const std::string& v) {
    H t(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(t.id, std::max<size_t>(1, v.size()));
    H5Tset_strpad(t.id, H5T_STR_NULLPAD);
    H5Tset_cset(t.id, H5T_CSET_UTF8);
    std::string buf = v.empty() ? std::string(1, '\0') : v;
    write_attr(obj, name, t.id, t.id, buf.data());
  }
  void attr(const std::string& obj, const std::string& name, double v) {
    write_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
  }
  void attr(const std::string& obj, const std::string& name, int64_t v) {
    write_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
  }
  void close() {
    ok(H5Fflush(f_.id, H5F_SCOPE_GLOBAL), "flush");
    ok(H5Fclose(f_.id), "close");
    f_.id = -1;
  }

 private:
  void ok(long long r, const std::string& what) {
    if (r < 0) throw FileError(path_ + ": cannot write " + what);
  }
  void write_attr(const std::string& obj, const std::string& name, hid_t ftype, hid_t mtype, const void* data) {
    H sp(H5Screate(H5S_SCALAR), H5Sclose);
    H a(H5Acreate_by_name(f_.id, obj.c_str(), name.c_str(), ftype, sp.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    ok(a.id, obj + "@" + name);
    ok(H5Awrite(a.id, mtype, data), obj + "@" + name);
  }
  std::string path_;
  H fapl_, f_;
};

void scalar(DevWriter& w, const std::string& ds, double v, const std::string& units) { w.dataset(ds, {v}, {}, units); }
void vec(DevWriter& w, const std::string& ds, const std::vector<double>& v, const std::string& units) {
  w.dataset(ds, v, {v.size()}, units);
}
}  // namespace

void write_device_file(const std::string& path, const DeviceTables& t) {
  {
    DevWriter w(path);
    w.attr("/", "schema", std::string(kSchema));
    w.attr("/", "schema_version", int64_t(kVersion));
    w.attr("/", "name", t.name);
    w.attr("/", "technology", t.technology);
    if (!t.source.empty()) w.attr("/", "source", t.source);
    if (!t.citation.empty()) w.attr("/", "citation", t.citation);
    if (!t.description.empty()) w.attr("/", "description", t.description);

    w.group("/conductance");
    scalar(w, "/conductance/g_min_uS", t.g_min_uS, "uS");
    scalar(w, "/conductance/g_max_uS", t.g_max_uS, "uS");
    if (!t.levels_uS.empty()) vec(w, "/conductance/levels_uS", t.levels_uS, "uS");

    if (t.has_programming()) {
      w.group("/programming");
      vec(w, "/programming/g_target_uS", t.prog_g_uS, "uS");
      if (!t.prog_sigma_uS.empty()) vec(w, "/programming/sigma_uS", t.prog_sigma_uS, "uS");
      if (t.has_samples()) {
        w.dataset("/programming/samples_uS", t.prog_samples_uS, {t.prog_g_uS.size(), t.prog_samples_n}, "uS");
        w.attr("/programming", "sampling", std::string("empirical_quantile"));
      }
    }
    if (t.has_read_noise()) {
      w.group("/read_noise");
      vec(w, "/read_noise/g_uS", t.read_g_uS, "uS");
      vec(w, "/read_noise/sigma_uS", t.read_sigma_uS, "uS");
      w.attr("/read_noise", "time_model", t.read_time_model);
      w.attr("/read_noise", "t_ref_s", t.read_t_ref_s);
      w.attr("/read_noise", "t_read_s", t.read_t_read_s);
      if (t.read_time_model == "power") w.attr("/read_noise", "time_exponent", t.read_time_exponent);
      w.attr("/read_noise", "scales_with_drift", int64_t(t.read_scales_with_drift ? 1 : 0));
    }
    if (t.has_drift()) {
      w.group("/drift");
      vec(w, "/drift/g_uS", t.drift_g_uS, "uS");
      vec(w, "/drift/nu_mean", t.drift_nu_mean, "1");
      vec(w, "/drift/nu_std", t.drift_nu_std, "1");
      w.attr("/drift", "t0_s", t.drift_t0_s);
    }
    w.group("/faults");
    scalar(w, "/faults/stuck_at_gmin_rate", t.stuck_at_gmin_rate, "1");
    scalar(w, "/faults/stuck_at_gmax_rate", t.stuck_at_gmax_rate, "1");
    if (t.has_iv()) {
      w.group("/iv");
      vec(w, "/iv/v_V", t.iv_v_V, "V");
      vec(w, "/iv/i_per_g", t.iv_i_per_g, "V");
    }
    w.group("/provenance");
    w.attr("/provenance", "tool", t.tool);
    w.attr("/provenance", "tool_version", t.tool_version);
    w.attr("/provenance", "date", t.date.empty() ? iso_date_utc() : t.date);
    if (!t.method.empty()) w.attr("/provenance", "method", t.method);
    w.attr("/provenance", "n_inputs", int64_t(t.inputs.size()));
    for (size_t k = 0; k < t.inputs.size(); ++k) {
      const std::string pre = "input_" + std::to_string(k) + "_";
      w.attr("/provenance", pre + "name", t.inputs[k].name);
      if (!t.inputs[k].role.empty()) w.attr("/provenance", pre + "role", t.inputs[k].role);
      w.attr("/provenance", pre + "sha256", t.inputs[k].sha256);
    }
    w.close();
  }
  auto p = validate_device_file(path);
  if (!p.empty()) {
    std::remove(path.c_str());
    throw FileError("refusing to write an invalid device file (removed): " + format_problems(path, p));
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
