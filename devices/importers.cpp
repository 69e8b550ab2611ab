#include "devices/importers.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <sstream>

#include "common/error.h"
#include "common/fields.h"
#include "devices/read_noise_law.h"
#include "common/sha256.h"
#include "common/stats.h"
#include "devices/table_device.h"

namespace xbar {

namespace {

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  std::string t = s.substr(a, b - a);
  if (t.size() >= 2 && t.front() == '"' && t.back() == '"') t = t.substr(1, t.size() - 2);
  return t;
}

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : line) {
    if (ch == ',') {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += ch;
    }
  }
  out.push_back(trim(cur));
  return out;
}

bool parse_number(const std::string& s, double& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

std::string fmt(double v, int prec = 4) {
  std::ostringstream os;
  os.precision(prec);
  os << v;
  return os.str();
}

double skew_of(const std::vector<double>& v) {
  const MeanStd ms = mean_std(v);
  const double m = ms.mean, s = ms.sd;
  if (v.size() < 3 || s == 0) return 0.0;
  double k = 0;
  for (double x : v) k += std::pow((x - m) / s, 3);
  return k / double(v.size());
}
// Kolmogorov-Smirnov distance of the sample to a normal with its own mean and std.
double ks_normal(std::vector<double> v) {
  const MeanStd ms = mean_std(v);
  const double m = ms.mean, s = ms.sd;
  if (v.size() < 2 || s == 0) return 0.0;
  std::sort(v.begin(), v.end());
  double d = 0;
  const double n = double(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const double f = 0.5 * std::erfc(-(v[i] - m) / (s * std::sqrt(2.0)));
    d = std::max({d, std::abs(f - double(i) / n), std::abs(double(i + 1) / n - f)});
  }
  return d;
}

// Least squares polynomial fit of degree deg (<= 2); returns coefficients and R^2.
std::vector<double> polyfit(const std::vector<double>& x, const std::vector<double>& y, int deg, double& r2) {
  const int m = deg + 1;
  double A[3][4] = {};
  for (size_t i = 0; i < x.size(); ++i) {
    double p[3] = {1, x[i], x[i] * x[i]};
    for (int a = 0; a < m; ++a) {
      for (int b = 0; b < m; ++b) A[a][b] += p[a] * p[b];
      A[a][m] += p[a] * y[i];
    }
  }
  for (int c = 0; c < m; ++c) {  // Gauss-Jordan with partial pivoting
    int piv = c;
    for (int r = c + 1; r < m; ++r)
      if (std::abs(A[r][c]) > std::abs(A[piv][c])) piv = r;
    for (int k = 0; k <= m; ++k) std::swap(A[c][k], A[piv][k]);
    if (std::abs(A[c][c]) < 1e-300) {
      r2 = std::nan("");
      return std::vector<double>(size_t(m), 0.0);
    }
    for (int r = 0; r < m; ++r) {
      if (r == c) continue;
      const double f = A[r][c] / A[c][c];
      for (int k = c; k <= m; ++k) A[r][k] -= f * A[c][k];
    }
  }
  std::vector<double> coef(static_cast<size_t>(m), 0.0);
  for (int a = 0; a < m; ++a) coef[size_t(a)] = A[a][m] / A[a][a];
  const double ym = mean_std(y).mean;
  double ss_res = 0, ss_tot = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double f = 0, p = 1;
    for (int a = 0; a < m; ++a, p *= x[i]) f += coef[size_t(a)] * p;
    ss_res += (y[i] - f) * (y[i] - f);
    ss_tot += (y[i] - ym) * (y[i] - ym);
  }
  r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : 1.0;
  return coef;
}

void check_positive(const std::string& path, size_t line, const char* col, double v) {
  if (!(v > 0))
    throw FileError(path + ":" + std::to_string(line) + ": column " + col + " = " + format_double(v) +
                    " must be > 0 (conductances are positive; check --units)");
}

// Every conductance column (index, name) of csv: >= 0 and at most 1 S after unit conversion (a larger
// value is a unit error, e.g. siemens data imported as uS, or a wrong column).
void check_conductances(const CsvColumns& csv, const std::string& path, double scale,
                        const std::vector<std::pair<size_t, const char*>>& columns) {
  for (const auto& [c, name] : columns)
    for (size_t i = 0; i < csv.rows(); ++i) {
      const double v = csv.cols[c][i], g_uS = v * scale;
      const std::string at = path + ":" + std::to_string(csv.line[i]) + ": column '" + name + "' = " + format_double(v);
      if (v < 0) throw FileError(at + " is negative (conductances are >= 0)");
      if (g_uS > 1e6)
        throw FileError(at + " is " + format_double(g_uS) + " uS, above 1 S: implausible for a device; check --units (uS or S)");
    }
}

std::string units_hint(const std::vector<double>& g_uS) {
  double mx = 0;
  for (double g : g_uS) mx = std::max(mx, std::abs(g));
  if (mx > 0 && mx < 1e-3) return "  warning: largest conductance is " + fmt(mx) + " uS; were the values in siemens (--units S)?\n";
  if (mx > 1e5) return "  warning: largest conductance is " + fmt(mx) + " uS (> 0.1 S); check --units\n";
  return "";
}

// Equal-count bins over sorted keys: returns [begin, end) index ranges with distinct key means.
std::vector<std::pair<size_t, size_t>> equal_count_bins(const std::vector<double>& sorted_keys, int bins) {
  const size_t n = sorted_keys.size();
  const size_t k = std::max<size_t>(1, std::min<size_t>(n, size_t(std::max(1, bins))));
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t b = 0; b < k; ++b) {
    size_t lo = b * n / k, hi = (b + 1) * n / k;
    if (hi <= lo) continue;
    // keep equal keys in one bin so bin centres are strictly increasing
    if (!out.empty() && sorted_keys[lo] == sorted_keys[lo - 1]) {
      out.back().second = hi;
      continue;
    }
    out.push_back({lo, hi});
  }
  return out;
}

}  // namespace

double units_to_uS(const std::string& units) {
  if (units == "uS" || units == "us") return 1.0;
  if (units == "S" || units == "s") return 1e6;
  throw ConfigError("units", "\"" + units + "\"", "must be S or uS");
}

CsvColumns read_csv_columns(const std::string& path, const std::vector<std::vector<std::string>>& columns) {
  std::ifstream in(path);
  if (!in) throw FileError(path + ": cannot open CSV file");
  CsvColumns out;
  out.cols.resize(columns.size());
  std::vector<size_t> idx(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) idx[c] = c;  // positional unless a header says otherwise
  bool first = true;
  std::string line;
  size_t ln = 0;
  std::string expected;
  for (const auto& c : columns) expected += (expected.empty() ? "" : ",") + c.front();
  while (std::getline(in, line)) {
    ++ln;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    auto f = split(line);
    if (first) {
      first = false;
      bool header = false;
      double dummy;
      for (const auto& x : f)
        if (!parse_number(x, dummy)) header = true;
      if (header) {
        for (size_t c = 0; c < columns.size(); ++c) {
          bool found = false;
          for (size_t k = 0; k < f.size() && !found; ++k)
            for (const auto& alias : columns[c])
              if (lower(f[k]) == lower(alias)) {
                idx[c] = k;
                found = true;
                break;
              }
          if (!found)
            throw FileError(path + ":" + std::to_string(ln) + ": missing column '" + columns[c].front() +
                            "' (header has: " + t + "; expected columns: " + expected + ")");
        }
        continue;
      }
    }
    const size_t need = *std::max_element(idx.begin(), idx.end()) + 1;
    if (f.size() < need)
      throw FileError(path + ":" + std::to_string(ln) + ": expected " + std::to_string(need) + " fields (" + expected +
                      "), found " + std::to_string(f.size()));
    for (size_t c = 0; c < columns.size(); ++c) {
      double v;
      const std::string& s = f[idx[c]];
      if (!parse_number(s, v))
        throw FileError(path + ":" + std::to_string(ln) + ": column '" + columns[c].front() + "': '" + s +
                        "' is not a number");
      if (!std::isfinite(v))
        throw FileError(path + ":" + std::to_string(ln) + ": column '" + columns[c].front() + "': '" + s +
                        "' is not a finite number");
      out.cols[c].push_back(v);
    }
    out.line.push_back(ln);
  }
  if (in.bad()) throw FileError(path + ": read error");
  if (out.rows() == 0) throw FileError(path + ": no data rows (expected columns: " + expected + ")");
  return out;
}

// ------------------------------------------------------------------------------------- (a)
LevelsFit import_levels_csv(const std::string& path, double scale) {
  auto csv = read_csv_columns(path, {{"state", "level", "index"},
                                     {"mean", "mean_uS", "g_uS", "conductance", "g"},
                                     {"std", "std_uS", "sigma", "sigma_uS"}});
  check_conductances(csv, path, scale, {{1, "mean"}, {2, "std"}});
  std::vector<size_t> order(csv.rows());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return csv.cols[1][a] < csv.cols[1][b]; });
  LevelsFit fit;
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    const double m = csv.cols[1][i] * scale, s = csv.cols[2][i] * scale;
    if (s < 0)
      throw FileError(path + ":" + std::to_string(csv.line[i]) + ": column 'std' = " + format_double(csv.cols[2][i]) +
                      " is negative");
    if (m < 0)
      throw FileError(path + ":" + std::to_string(csv.line[i]) + ": column 'mean' = " + format_double(csv.cols[1][i]) +
                      " is negative");
    if (k > 0 && m == fit.g_uS.back())
      throw FileError(path + ":" + std::to_string(csv.line[i]) + ": state mean " + format_double(m) +
                      " uS appears twice (line " + std::to_string(csv.line[order[k - 1]]) + ")");
    fit.g_uS.push_back(m);
    fit.sigma_uS.push_back(s);
  }
  std::ostringstream os;
  os << "levels CSV " << path << ": " << fit.g_uS.size() << " states, G " << fmt(fit.g_uS.front()) << " .. "
     << fmt(fit.g_uS.back()) << " uS, programming sigma " << fmt(*std::min_element(fit.sigma_uS.begin(), fit.sigma_uS.end()))
     << " .. " << fmt(*std::max_element(fit.sigma_uS.begin(), fit.sigma_uS.end()))
     << " uS (table taken as given: exact at the states, linear between)\n";
  os << units_hint(fit.g_uS);
  fit.report = os.str();
  return fit;
}

// ------------------------------------------------------------------------------------- (b)
RawFit import_raw_csv(const std::string& path, double scale, double rel_tol) {
  auto csv = read_csv_columns(path, {{"target_uS", "target", "g_target_uS", "target_S"},
                                     {"measured_uS", "measured", "g_uS", "measured_S"}});
  check_conductances(csv, path, scale, {{0, "target_uS"}, {1, "measured_uS"}});
  const size_t n = csv.rows();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto& tg = csv.cols[0];
  auto& ms = csv.cols[1];
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tg[a] < tg[b]; });
  const double lo = tg[order.front()] * scale, hi = tg[order.back()] * scale;
  const double tol = rel_tol * std::max({hi - lo, std::abs(hi), 1e-12});
  std::vector<std::vector<size_t>> groups;
  double prev = 0;
  for (size_t k = 0; k < n; ++k) {
    const double t = tg[order[k]] * scale;
    if (t < 0)
      throw FileError(path + ":" + std::to_string(csv.line[order[k]]) + ": column 'target_uS' = " +
                      format_double(tg[order[k]]) + " is negative");
    if (groups.empty() || t - prev > tol) groups.emplace_back();
    groups.back().push_back(order[k]);
    prev = t;
  }
  RawFit fit;
  size_t nmin = SIZE_MAX;
  std::vector<std::vector<double>> per_level;
  for (const auto& g : groups) {
    if (g.size() < 2)
      throw FileError(path + ":" + std::to_string(csv.line[g.front()]) + ": level target " +
                      format_double(tg[g.front()] * scale) + " uS has a single measurement (need >= 2 per level)");
    double t = 0;
    std::vector<double> m;
    for (size_t i : g) t += tg[i] * scale, m.push_back(ms[i] * scale);
    t /= double(g.size());
    std::vector<double> dev(m);
    for (auto& d : dev) d -= t;
    fit.target_uS.push_back(t);
    fit.sigma_uS.push_back(mean_std(m).sd);
    fit.mean_offset_uS.push_back(mean_std(dev).mean);
    fit.ks_normal.push_back(ks_normal(m));
    fit.counts.push_back(g.size());
    std::sort(m.begin(), m.end());
    nmin = std::min(nmin, m.size());
    per_level.push_back(std::move(m));
  }
  fit.n_common = nmin;
  for (const auto& m : per_level)
    for (size_t i = 0; i < nmin; ++i) fit.samples_uS.push_back(empirical_quantile(m, (double(i) + 0.5) / double(nmin)));
  std::ostringstream os;
  os << "raw CSV " << path << ": " << n << " measurements binned into " << groups.size() << " levels ("
     << "tolerance " << fmt(tol) << " uS)";
  const bool equal_counts = std::all_of(fit.counts.begin(), fit.counts.end(), [&](size_t c) { return c == nmin; });
  os << (equal_counts ? "; all samples kept" : "; counts differ, each level resampled to " + std::to_string(nmin) +
                                                   " empirical quantiles")
     << "\n  level target_uS      n   offset_uS  sigma_uS  skew    KS-D(normal)\n";
  for (size_t l = 0; l < fit.target_uS.size(); ++l) {
    char buf[160];
    std::vector<double> m(per_level[l]);
    std::snprintf(buf, sizeof buf, "  %5zu %10.4g %6zu %10.4g %9.4g %7.3f %8.4f\n", l, fit.target_uS[l], fit.counts[l],
                  fit.mean_offset_uS[l], fit.sigma_uS[l], skew_of(m), fit.ks_normal[l]);
    os << buf;
  }
  if (fit.target_uS.size() >= 3) {
    auto c = polyfit(fit.target_uS, fit.sigma_uS, 2, fit.quad_r2);
    fit.quad_a = c[0], fit.quad_b = c[1], fit.quad_c = c[2];
    os << "  summary fit sigma(G) = " << fmt(c[0]) << " + " << fmt(c[1]) << " G + " << fmt(c[2])
       << " G^2 uS, R^2 = " << fmt(fit.quad_r2) << " (the file keeps the per-level table and raw samples)\n";
  }
  const double kmax = *std::max_element(fit.ks_normal.begin(), fit.ks_normal.end());
  os << "  largest KS distance to a normal: " << fmt(kmax) << " (5% critical value ~ " << fmt(1.36 / std::sqrt(double(nmin)))
     << "); sampling is empirical, so non-normal shapes are kept\n";
  os << units_hint(fit.target_uS);
  fit.report = os.str();
  return fit;
}

// ------------------------------------------------------------------------------------- (c)
DriftFit import_drift_csv(const std::string& path, double scale, double t0, int bins) {
  if (!(t0 > 0)) throw ConfigError("t0_s", format_double(t0), "must be > 0");
  auto csv = read_csv_columns(path, {{"g0_uS", "g0", "g0_S"}, {"t_s", "t", "time_s"}, {"g_uS", "g", "g_S"}});
  std::map<double, std::vector<size_t>> dev;  // devices keyed by g0
  for (size_t i = 0; i < csv.rows(); ++i) {
    check_positive(path, csv.line[i], "g0_uS", csv.cols[0][i]);
    check_positive(path, csv.line[i], "g_uS", csv.cols[2][i]);
    if (csv.cols[1][i] < 0)
      throw FileError(path + ":" + std::to_string(csv.line[i]) + ": column 't_s' = " + format_double(csv.cols[1][i]) +
                      " is negative");
    dev[csv.cols[0][i]].push_back(i);
  }
  check_conductances(csv, path, scale, {{0, "g0_uS"}, {2, "g_uS"}});
  std::vector<double> g0s, nus;
  DriftFit fit;
  double ss_res = 0, ss_tot = 0, ysum = 0, y2sum = 0;
  size_t skipped = 0;
  for (const auto& [g0, rows] : dev) {
    double sxy = 0, sxx = 0;
    for (size_t i : rows) {
      const double x = std::log((csv.cols[1][i] + t0) / t0), y = std::log(csv.cols[2][i] / g0);
      sxy += x * y, sxx += x * x;
    }
    if (sxx <= 0) {
      ++skipped;
      continue;
    }
    const double nu = -sxy / sxx;
    // A device file holds drift exponents up to the validator's bound; beyond it the data are not drift.
    if (std::abs(nu) > max_plausible_magnitude("1"))
      throw FileError(path + ": device with g0_uS = " + format_double(g0) + ": fitted drift exponent nu = " +
                      format_double(nu) + " exceeds " + format_double(max_plausible_magnitude("1")) +
                      magnitude_meaning("1") + " (check the t_s and g_uS columns)");
    for (size_t i : rows) {
      const double x = std::log((csv.cols[1][i] + t0) / t0), y = std::log(csv.cols[2][i] / g0);
      if (x <= 0) continue;
      ss_res += (y + nu * x) * (y + nu * x);
      ysum += y, y2sum += y * y;
      ++fit.rows_used;
    }
    g0s.push_back(g0 * scale);
    nus.push_back(nu);
  }
  if (g0s.empty())
    throw FileError(path + ": no device has a reading at t_s > 0 (cannot fit drift exponents)");
  fit.devices = g0s.size();
  ss_tot = y2sum - ysum * ysum / double(fit.rows_used);
  fit.r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : 1.0;
  fit.rms_log_residual = std::sqrt(ss_res / double(fit.rows_used));
  // g0s are sorted (map order), so equal-count bins are contiguous ranges.
  std::ostringstream os;
  os << "drift CSV " << path << ": " << csv.rows() << " rows, " << fit.devices << " devices (rows with equal g0)";
  if (skipped) os << ", " << skipped << " devices without a reading at t > 0 skipped";
  os << "\n  fitted per device: ln(g/g0) = -nu ln((t + t0)/t0), t0 = " << fmt(t0) << " s; R^2 = " << fmt(fit.r2)
     << ", rms residual of ln g = " << fmt(fit.rms_log_residual) << "\n  bin  g_uS       devices  nu_mean   nu_std\n";
  for (auto [lo, hi] : equal_count_bins(g0s, bins)) {
    std::vector<double> gg(g0s.begin() + long(lo), g0s.begin() + long(hi)), nn(nus.begin() + long(lo), nus.begin() + long(hi));
    fit.g_uS.push_back(mean_std(gg).mean);
    fit.nu_mean.push_back(mean_std(nn).mean);
    fit.nu_std.push_back(mean_std(nn).sd);
    fit.devices_per_bin.push_back(hi - lo);
    char buf[128];
    std::snprintf(buf, sizeof buf, "  %3zu %10.4g %7zu %9.4g %9.4g\n", fit.g_uS.size() - 1, fit.g_uS.back(), hi - lo,
                  fit.nu_mean.back(), fit.nu_std.back());
    os << buf;
  }
  os << units_hint(fit.g_uS);
  fit.report = os.str();
  return fit;
}

// ------------------------------------------------------------------------------------- (d)
ReadFit import_read_csv(const std::string& path, double scale, int bins) {
  auto csv = read_csv_columns(path, {{"g_uS", "g", "g_S"}, {"read_uS", "read", "read_S"}});
  check_conductances(csv, path, scale, {{0, "g_uS"}, {1, "read_uS"}});
  std::map<double, std::vector<size_t>> dev;
  for (size_t i = 0; i < csv.rows(); ++i) {
    if (csv.cols[0][i] < 0)
      throw FileError(path + ":" + std::to_string(csv.line[i]) + ": column 'g_uS' = " + format_double(csv.cols[0][i]) +
                      " is negative");
    dev[csv.cols[0][i]].push_back(i);
  }
  std::vector<double> gs, sds, vars;
  for (const auto& [g, rows] : dev) {
    if (rows.size() < 2)
      throw FileError(path + ":" + std::to_string(csv.line[rows.front()]) + ": device g_uS = " + format_double(g) +
                      " has a single read (need repeated reads per device)");
    std::vector<double> r;
    for (size_t i : rows) r.push_back(csv.cols[1][i] * scale);
    gs.push_back(g * scale);
    sds.push_back(mean_std(r).sd);
    vars.push_back(sds.back() * sds.back());
  }
  ReadFit fit;
  fit.devices = gs.size();
  std::ostringstream os;
  os << "read-noise CSV " << path << ": " << csv.rows() << " reads of " << fit.devices << " devices\n"
     << "  bin  g_uS       devices  sigma_uS  sigma/G\n";
  for (auto [lo, hi] : equal_count_bins(gs, bins)) {
    std::vector<double> gg(gs.begin() + long(lo), gs.begin() + long(hi)), vv(vars.begin() + long(lo), vars.begin() + long(hi));
    fit.g_uS.push_back(mean_std(gg).mean);
    fit.sigma_uS.push_back(std::sqrt(mean_std(vv).mean));
    fit.devices_per_bin.push_back(hi - lo);
    char buf[128];
    std::snprintf(buf, sizeof buf, "  %3zu %10.4g %7zu %9.4g %8.4f\n", fit.g_uS.size() - 1, fit.g_uS.back(), hi - lo,
                  fit.sigma_uS.back(), fit.g_uS.back() > 0 ? fit.sigma_uS.back() / fit.g_uS.back() : 0.0);
    os << buf;
  }
  if (gs.size() >= 2) {
    auto c = polyfit(gs, sds, 1, fit.lin_r2);
    fit.lin_a = c[0], fit.lin_b = c[1];
    os << "  summary fit over devices: sigma = " << fmt(c[0]) << " uS + " << fmt(c[1]) << " G, R^2 = " << fmt(fit.lin_r2)
       << " (the file keeps the binned table)\n";
  }
  os << units_hint(fit.g_uS);
  fit.report = os.str();
  return fit;
}

// ------------------------------------------------------------------------------------- all
ImportResult import_device(const ImportInputs& in, const ImportOptions& opt) {
  if (!in.levels_csv.empty() && !in.raw_csv.empty())
    throw ConfigError("import", "levels + raw", "give either a levels CSV or a raw CSV for programming, not both");
  if (in.levels_csv.empty() && in.raw_csv.empty() && in.drift_csv.empty() && in.read_csv.empty())
    throw ConfigError("import", "(none)", "no input CSV given");
  if (opt.name.empty()) throw ConfigError("import.name", "\"\"", "a device name is required");
  const double scale = units_to_uS(opt.units);
  ImportResult res;
  DeviceTables& t = res.tables;
  t.name = opt.name;
  t.technology = opt.technology;
  t.source = opt.source;
  t.citation = opt.citation;
  t.description = opt.description;
  t.tool = "xbar device import";
  std::ostringstream rep, method;
  method << "xbar device import (units " << opt.units << ")";
  double lo = INFINITY, hi = -INFINITY;
  auto span = [&](const std::vector<double>& g) {
    for (double x : g) lo = std::min(lo, x), hi = std::max(hi, x);
  };
  std::vector<double> level_g;
  if (!in.levels_csv.empty()) {
    auto f = import_levels_csv(in.levels_csv, scale);
    t.prog_g_uS = f.g_uS;
    t.prog_sigma_uS = f.sigma_uS;
    level_g = f.g_uS;
    rep << f.report;
    method << "; programming table from per-state mean/std";
    t.inputs.push_back({"levels", in.levels_csv, sha256_file(in.levels_csv)});
  }
  if (!in.raw_csv.empty()) {
    auto f = import_raw_csv(in.raw_csv, scale, opt.bin_rel_tol);
    t.prog_g_uS = f.target_uS;
    t.prog_sigma_uS = f.sigma_uS;
    t.prog_samples_uS = f.samples_uS;
    t.prog_samples_n = f.n_common;
    level_g = f.target_uS;
    rep << f.report;
    method << "; programming: raw samples binned by target into " << f.target_uS.size()
           << " levels (sampled by empirical quantile)";
    t.inputs.push_back({"raw", in.raw_csv, sha256_file(in.raw_csv)});
  }
  span(level_g);
  if (!in.drift_csv.empty()) {
    auto f = import_drift_csv(in.drift_csv, scale, opt.t0_s, opt.drift_bins);
    t.drift_g_uS = f.g_uS;
    t.drift_nu_mean = f.nu_mean;
    t.drift_nu_std = f.nu_std;
    t.drift_t0_s = opt.t0_s;
    if (level_g.empty()) span(f.g_uS);
    rep << f.report;
    method << "; drift: per-device power-law fit, " << f.g_uS.size() << " equal-count G bins";
    t.inputs.push_back({"drift", in.drift_csv, sha256_file(in.drift_csv)});
  }
  if (!in.read_csv.empty()) {
    auto f = import_read_csv(in.read_csv, scale, opt.read_bins);
    t.read_g_uS = f.g_uS;
    t.read_sigma_uS = f.sigma_uS;
    t.read_time_model = "none";
    t.read_t_ref_s = opt.read_t_ref_s;
    t.read_scales_with_drift = opt.read_scales_with_drift;
    if (level_g.empty() && t.drift_g_uS.empty()) span(f.g_uS);
    rep << f.report;
    method << "; read noise: per-device std of repeated reads, " << f.g_uS.size() << " equal-count G bins";
    t.inputs.push_back({"read", in.read_csv, sha256_file(in.read_csv)});
  }
  if (opt.levels && !level_g.empty()) t.levels_uS = level_g;
  t.g_min_uS = opt.g_min_uS ? *opt.g_min_uS : (std::isfinite(lo) ? std::max(0.0, lo) : 0.0);
  t.g_max_uS = opt.g_max_uS ? *opt.g_max_uS : (std::isfinite(hi) ? hi : 0.0);
  if (!(t.g_min_uS < t.g_max_uS))
    throw ConfigError("import.g_max_uS", format_double(t.g_max_uS),
                      "must exceed g_min_uS = " + format_double(t.g_min_uS) + " (give --g-min/--g-max)");
  t.stuck_at_gmin_rate = opt.stuck_at_gmin_rate;
  t.stuck_at_gmax_rate = opt.stuck_at_gmax_rate;
  t.method = method.str();
  rep << "conductance range: g_min_uS = " << fmt(t.g_min_uS, 6) << ", g_max_uS = " << fmt(t.g_max_uS, 6)
      << (opt.g_min_uS || opt.g_max_uS ? " (given)" : " (from the data)") << "\n";
  res.report = rep.str();
  return res;
}

// ------------------------------------------------------------------------------------- tabulate
namespace {
std::vector<double> tabulation_grid(double g_min, double g_max) {
  std::vector<double> g = {0.0, g_min, g_max};
  const double top = g_max * 1.5;
  for (int i = 0; i <= 600; ++i) g.push_back(top * i / 600.0);
  for (int i = 0; i <= 80; ++i) g.push_back(g_max * 1e-4 * std::pow(2000.0, i / 80.0));  // 1e-4 .. 0.2 g_max
  std::sort(g.begin(), g.end());
  std::vector<double> out;
  for (double x : g)
    if (out.empty() || x - out.back() > 1e-9 * g_max) out.push_back(x);
  return out;
}
// Drops interior grid points where every table of a group is linear between the neighbours that
// are kept (exactly, to 1e-12 of the table's scale): constant or linear tables shrink to 2 points.
void simplify(std::vector<double>& g, std::vector<std::vector<double>*> ys) {
  if (g.size() < 3) return;
  std::vector<double> scale;
  for (auto* y : ys) {
    double m = 0;
    for (double v : *y) m = std::max(m, std::abs(v));
    scale.push_back(std::max(m, 1e-300));
  }
  std::vector<size_t> keep = {0};
  for (size_t i = 1; i + 1 < g.size(); ++i) {
    const size_t a = keep.back(), b = i + 1;
    bool linear = true;
    for (size_t k = 0; k < ys.size() && linear; ++k) {
      const auto& y = *ys[k];
      // every point between a and b must lie on the a-b chord
      for (size_t j = a + 1; j < b && linear; ++j) {
        const double w = (g[j] - g[a]) / (g[b] - g[a]);
        linear = std::abs(y[a] + w * (y[b] - y[a]) - y[j]) <= 1e-12 * scale[k];
      }
    }
    if (!linear) keep.push_back(i);
  }
  keep.push_back(g.size() - 1);
  auto pick = [&](std::vector<double>& v) {
    std::vector<double> o;
    for (size_t i : keep) o.push_back(v[i]);
    v = std::move(o);
  };
  pick(g);
  for (auto* y : ys) pick(*y);
}

}  // namespace

ImportResult tabulate_device(const DeviceConfig& cfg, const std::string& source, const std::string& citation) {
  DeviceConfig c = cfg;
  const std::string model = enum_name(c.model);
  if (c.model == DeviceKind::file) throw ConfigError("device.model", "file", "tabulate needs a parametric model");
  auto m = make_device(c);
  m->prog_scale = m->read_scale = m->drift_scale = 1.0;
  ImportResult res;
  DeviceTables& t = res.tables;
  t.name = model;
  t.technology = c.model == DeviceKind::normal ? "generic" : model;
  t.source = source;
  t.citation = citation;
  t.description = "tabulated from xbar's parametric '" + model + "' model with g_min_uS = " + format_double(c.g_min_uS) +
                  ", g_max_uS = " + format_double(c.g_max_uS);
  t.tool = "xbar device tabulate";
  t.method = "model " + model + " evaluated on a " + "grid of 0 .. 1.5 g_max (uniform + geometric near 0)";
  t.g_min_uS = m->g_min_uS();
  t.g_max_uS = m->g_max_uS();
  t.levels_uS = m->levels_uS();
  t.stuck_at_gmin_rate = m->stuck_at_gmin_rate();
  t.stuck_at_gmax_rate = m->stuck_at_gmax_rate();
  const auto grid = tabulation_grid(t.g_min_uS, t.g_max_uS);
  t.prog_g_uS = grid;
  for (double g : grid) t.prog_sigma_uS.push_back(m->prog_sigma_uS(g));

  // Read noise: detect the time law and the drift coupling on a probe conductance.
  const double t_ref = 1.0, gp = 0.5 * (t.g_min_uS + t.g_max_uS);
  const double s_ref = m->read_sigma_uS(gp, gp, t_ref);
  std::string tm = "none";
  double expo = 0.0;
  const double probes[] = {1e-3, 1e2, 1e5, 1e7};
  auto all_match = [&](auto f) {
    for (double tt : probes)
      if (std::abs(m->read_sigma_uS(gp, gp, tt) - s_ref * f(tt)) > 1e-9 * std::max(s_ref, 1e-30)) return false;
    return true;
  };
  if (s_ref > 0 && !all_match([](double) { return 1.0; })) {
    if (all_match([&](double tt) { return pcm_1f_factor(tt, kReadPulse_s, t_ref); })) {
      tm = "pcm_1f";
    } else {
      expo = std::log(m->read_sigma_uS(gp, gp, 1e5) / s_ref) / std::log(1e5 / t_ref);
      if (!all_match([&](double tt) { return std::pow(std::max(tt, kReadPulse_s) / t_ref, expo); }))
        throw Error("tabulate: the read-noise time dependence of model '" + model +
                    "' is none of the schema's time models (none, pcm_1f, power)");
      tm = "power";
    }
  }
  const double s_half = m->read_sigma_uS(gp, 0.5 * gp, t_ref);
  t.read_scales_with_drift = s_ref > 0 && std::abs(s_half - 0.5 * s_ref) < std::abs(s_half - s_ref);
  t.read_time_model = tm;
  t.read_t_ref_s = t_ref;
  t.read_t_read_s = kReadPulse_s;
  t.read_time_exponent = expo;
  t.read_g_uS = grid;
  for (double g : grid) t.read_sigma_uS.push_back(m->read_sigma_uS(g, g, t_ref));

  t.drift_g_uS = grid;
  for (double g : grid) t.drift_nu_mean.push_back(m->nu_mean(g)), t.drift_nu_std.push_back(m->nu_std(g));
  t.drift_t0_s = m->t0_s();

  simplify(t.prog_g_uS, {&t.prog_sigma_uS});
  simplify(t.read_g_uS, {&t.read_sigma_uS});
  simplify(t.drift_g_uS, {&t.drift_nu_mean, &t.drift_nu_std});

  // Self-check on random points inside [g_min, g_max].
  TableDevice td(t);
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> ug(t.g_min_uS, t.g_max_uS), uf(0.5, 1.0), ul(std::log(1e-6), std::log(1e8));
  double e_prog = 0, e_num = 0, e_nus = 0, e_read = 0, max_prog = 1e-30, max_read = 1e-30;
  for (double g : grid)
    if (g <= t.g_max_uS) max_prog = std::max(max_prog, m->prog_sigma_uS(g));
  for (int i = 0; i < 20000; ++i) {
    const double g = ug(rng), gn = g * uf(rng), tt = std::exp(ul(rng));
    e_prog = std::max(e_prog, std::abs(td.prog_sigma_uS(g) - m->prog_sigma_uS(g)));
    e_num = std::max(e_num, std::abs(td.nu_mean(g) - m->nu_mean(g)));
    e_nus = std::max(e_nus, std::abs(td.nu_std(g) - m->nu_std(g)));
    const double sr = m->read_sigma_uS(g, gn, tt);
    max_read = std::max(max_read, sr);
    e_read = std::max(e_read, std::abs(td.read_sigma_uS(g, gn, tt) - sr));
  }
  std::ostringstream os;
  os << "tabulated model '" << enum_name(c.model) << "' on a grid of " << grid.size() << " G points (0 .. " << format_double(grid.back())
     << " uS), kept where not linear: programming " << t.prog_g_uS.size() << ", read noise " << t.read_g_uS.size()
     << ", drift " << t.drift_g_uS.size() << " points; read noise time_model = " << tm << (tm == "power" ? " (exponent " + fmt(expo) + ")" : "")
     << ", scales_with_drift = " << (t.read_scales_with_drift ? 1 : 0) << "\n"
     << "  worst table-vs-model error on 20000 random points in [g_min, g_max], t in [1e-6, 1e8] s, G(t)/G in [0.5, 1]:\n"
     << "    programming sigma " << fmt(e_prog, 3) << " uS (" << fmt(100 * e_prog / max_prog, 3) << "% of its max)\n"
     << "    nu_mean " << fmt(e_num, 3) << ", nu_std " << fmt(e_nus, 3) << "\n"
     << "    read sigma " << fmt(e_read, 3) << " uS (" << fmt(100 * e_read / max_read, 3) << "% of its max)\n";
  res.report = os.str();
  return res;
}

}  // namespace xbar
