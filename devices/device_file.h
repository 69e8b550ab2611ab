// HDF5 device characterization files (schema "xbar-device", version 1): schema constants, the
// in-memory form of a file (DeviceTables), reading, writing, and a validator that reports every
// problem with the dataset or attribute path it concerns. The objects of a file are listed once,
// in the table of devices/device_schema.h, which drives all of these and the documentation.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "devices/device_model.h"
#include "devices/read_noise_law.h"

namespace xbar {

namespace device_schema {
inline constexpr const char* kSchema = "xbar-device";  // root attribute "schema"
inline constexpr int kVersion = 1;                      // root attribute "schema_version"
inline constexpr const char* kToolVersion = "0.1.0";    // written to /provenance tool_version
// Read-noise time models (attribute /read_noise time_model):
//   none    sigma does not depend on t
//   pcm_1f  sigma(t) = sigma_ref sqrt(ln((t + t_read)/(2 t_read)) / ln((t_ref + t_read)/(2 t_read)))
//           (accumulated 1/f noise, Nandakumar 2019; 0 while ln(...) <= 0)
//   power   sigma(t) = sigma_ref (max(t, t_read) / t_ref)^time_exponent
inline const std::vector<std::string>& time_models() {
  static const std::vector<std::string> m = {"none", "pcm_1f", "power"};
  return m;
}
}  // namespace device_schema

// One input file that went into a device file (provenance).
struct DeviceInput {
  std::string role;    // "levels", "raw", "drift", "read", "model" ...
  std::string name;    // file name as given to the importer
  std::string sha256;  // of the file's bytes
};

// Everything an xbar-device file holds, in microsiemens. Empty tables mean "group absent".
struct DeviceTables {
  // root attributes
  std::string name, technology, source, citation, description;
  // /conductance (required)
  double g_min_uS = 0.0, g_max_uS = 25.0;
  std::vector<double> levels_uS;  // optional finite states, strictly increasing
  // /programming: targets with sigma and/or raw samples (L x N row-major, N = prog_samples_n)
  std::vector<double> prog_g_uS, prog_sigma_uS, prog_samples_uS;
  size_t prog_samples_n = 0;
  // /read_noise: sigma of one read at t_ref for a device at g (before drift)
  std::vector<double> read_g_uS, read_sigma_uS;
  std::string read_time_model = "none";
  double read_t_ref_s = 1.0, read_t_read_s = kReadPulse_s, read_time_exponent = 0.0;
  bool read_scales_with_drift = true;  // sigma scales with G(t)/G_prog (relative read noise)
  // /drift: G(t) = G_prog ((t + t0)/t0)^-nu, nu ~ |N(nu_mean(G), nu_std(G))|
  std::vector<double> drift_g_uS, drift_nu_mean, drift_nu_std;
  double drift_t0_s = 1.0;
  // /faults (always written)
  double stuck_at_gmin_rate = 0.0, stuck_at_gmax_rate = 0.0;
  // /iv (optional): I = G * i_per_g(V)
  std::vector<double> iv_v_V, iv_i_per_g;
  // /provenance
  std::string tool = "xbar", tool_version = device_schema::kToolVersion, date, method;
  std::vector<DeviceInput> inputs;

  bool has_programming() const { return !prog_g_uS.empty(); }
  bool has_samples() const { return prog_samples_n > 0; }
  bool has_read_noise() const { return !read_g_uS.empty(); }
  bool has_drift() const { return !drift_g_uS.empty(); }
  bool has_iv() const { return !iv_v_V.empty(); }
};

// One problem found in a file: where is a dataset/attribute path ("/drift/nu_std",
// "/read_noise@time_model", "/@schema_version", or "(file)").
struct FileProblem {
  std::string where, what;
};

// Checks a file against the schema and reports every problem (empty: valid). Never throws for
// a bad file; fills *out (if given) with whatever could be read.
std::vector<FileProblem> validate_device_file(const std::string& path, DeviceTables* out = nullptr);
// "path: N problem(s):\n  where: what\n..." for error messages and `xbar device validate`.
std::string format_problems(const std::string& path, const std::vector<FileProblem>& problems);

// Largest magnitude a device-file value in `units` ("uS", "s", "1", "V") may have (the validator's
// plausibility bound), and what exceeding it means (" uS (1 S): implausible ...").
double max_plausible_magnitude(const std::string& units);
const char* magnitude_meaning(const std::string& units);

// Reads and validates; throws FileError listing every problem.
DeviceTables read_device_file(const std::string& path);
// Writes t to path and validates the result; on problems removes the file and throws FileError.
void write_device_file(const std::string& path, const DeviceTables& t);

// Current UTC time as ISO 8601 (honours SOURCE_DATE_EPOCH for reproducible files).
std::string iso_date_utc();

// Loads and validates cfg.file; throws FileError naming the file and dataset on any problem.
std::unique_ptr<DeviceModel> load_device_file(const DeviceConfig& cfg);

}  // namespace xbar
