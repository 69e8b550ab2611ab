// Importers that turn common measurement layouts into xbar-device tables (devices/device_file.h),
// and tabulation of the parametric models. Every importer reports what it fitted and how well.
//
// CSV layouts (comma separated; '#' comment lines and blank lines are skipped; a header row with
// the column names is optional: without it the columns are taken in the order listed):
//   (a) levels : state,mean,std            per programmable state (NeuroSim mem_states.csv style)
//   (b) raw    : target_uS,measured_uS     one row per programmed device; binned into levels
//   (c) drift  : g0_uS,t_s,g_uS            conductance g at time t of a device programmed to g0
//                                          (rows with equal g0 belong to one device)
//   (d) read   : g_uS,read_uS              repeated reads of devices (rows with equal g_uS are
//                                          reads of one device)
// Conductance columns are in microsiemens, or in siemens with units = "S".
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "devices/device_file.h"

namespace xbar {

// A parsed numeric CSV: columns in the order asked for, with the file line of each row.
struct CsvColumns {
  std::vector<std::vector<double>> cols;
  std::vector<size_t> line;  // 1-based line number of each row
  size_t rows() const { return line.size(); }
};
// Reads the named columns (aliases per column, case-insensitive); throws FileError naming the
// file and line for missing columns, short rows, text or non-finite values in number fields.
CsvColumns read_csv_columns(const std::string& path, const std::vector<std::vector<std::string>>& columns);

// Multiplier from the given unit to microsiemens ("uS" -> 1, "S" -> 1e6); throws otherwise.
double units_to_uS(const std::string& units);

struct LevelsFit {  // (a)
  std::vector<double> g_uS, sigma_uS;
  std::string report;
};
LevelsFit import_levels_csv(const std::string& path, double scale_to_uS);

struct RawFit {  // (b)
  std::vector<double> target_uS, sigma_uS, mean_offset_uS, ks_normal;
  std::vector<size_t> counts;
  std::vector<double> samples_uS;  // L x n_common, each row sorted
  size_t n_common = 0;
  double quad_a = 0, quad_b = 0, quad_c = 0, quad_r2 = 0;  // sigma ~ a + b G + c G^2
  std::string report;
};
// Rows whose targets differ by less than rel_tol * (target range) form one level.
RawFit import_raw_csv(const std::string& path, double scale_to_uS, double rel_tol = 1e-3);

struct DriftFit {  // (c)
  std::vector<double> g_uS, nu_mean, nu_std;
  std::vector<size_t> devices_per_bin;
  size_t devices = 0, rows_used = 0;
  double r2 = 0, rms_log_residual = 0;  // of ln(g/g0) = -nu ln((t + t0)/t0), per-device nu
  std::string report;
};
DriftFit import_drift_csv(const std::string& path, double scale_to_uS, double t0_s, int bins);

struct ReadFit {  // (d)
  std::vector<double> g_uS, sigma_uS;
  std::vector<size_t> devices_per_bin;
  size_t devices = 0;
  double lin_a = 0, lin_b = 0, lin_r2 = 0;  // sigma ~ a + b G
  std::string report;
};
ReadFit import_read_csv(const std::string& path, double scale_to_uS, int bins);

struct ImportOptions {
  std::string name, technology = "unknown", source, citation, description;
  std::string units = "uS";  // of the CSV conductance columns: uS or S
  std::optional<double> g_min_uS, g_max_uS;  // default: range of the levels / data
  bool levels = true;                         // write levels_uS from (a)/(b) (finite states)
  double bin_rel_tol = 1e-3;                  // (b) level binning tolerance
  double t0_s = 20.0;                         // (c) drift reference time
  int drift_bins = 8, read_bins = 8;          // (c), (d) number of G bins
  double read_t_ref_s = 1.0;                  // (d) time after programming of the reads
  bool read_scales_with_drift = true;         // (d) read noise relative to G(t)
  double stuck_at_gmin_rate = 0, stuck_at_gmax_rate = 0;
};
struct ImportInputs {
  std::string levels_csv, raw_csv, drift_csv, read_csv;  // any subset ((a) and (b) exclusive)
};
struct ImportResult {
  DeviceTables tables;
  std::string report;
};
ImportResult import_device(const ImportInputs& in, const ImportOptions& opt);

// Tabulates a parametric model (pcm, rram, ideal, normal) from cfg; the time dependence of its
// read noise and whether it follows drift are detected and checked. report gives the worst
// table-vs-model errors on random points.
ImportResult tabulate_device(const DeviceConfig& cfg, const std::string& source, const std::string& citation);

}  // namespace xbar
