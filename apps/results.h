// Study results files: OUTPUT.csv (first line `# xbar study <fingerprint>`, one row per finished
// point, appended as points finish: the resume record) and OUTPUT.h5 (rewritten atomically, rows
// sorted by index, with everything that reproduces a point: full config, seed and chip, device and
// model hashes, policy text, xbar version). Torch-free: single-process, MPI, merge and rerun share it.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "engine/policy.h"
#include "apps/study_spec.h"

namespace xbar {

// Cost per inference of a point (engine/cost.h); zero in results written without cost columns.
struct PointCost {
  double energy_pJ = 0, latency_ns = 0, area_mm2 = 0;
};

struct ResultRow {
  int64_t index = 0;
  int repeat = 0;  // the programmed chip (Philox stream key with run.seed)
  std::vector<std::string> values;  // grid values
  double metric = 0, saturation = 0;
  PointCost cost;
  std::string config_toml;    // full config of the point (policy default + grid values)
  int64_t seed = 0;           // run.seed of the point
  std::string device_sha256;  // sha256 of device.file when device.model = "file", else ""
};

struct ResultsMeta {
  std::string fingerprint, model, model_sha256, task, metric_name, study_toml, policy_toml, policy_source;
  std::string xbar_version;  // project version + git commit at configure time
  std::string data_dir;   // task fashion_mnist: the IDX directory given (study key `data`, --data); "" = the default
  std::string data;       // the evaluated data, e.g. "3000 test images of mnist" (filled by the runner)
  std::vector<std::string> grid_keys;
  int64_t samples = 0, context = 0, points_total = 0;
  double float_metric = 0;
  int shard_k = 0, shard_n = 1;  // this file holds points with index % shard_n == shard_k
};

struct Results {
  ResultsMeta meta;
  std::map<int64_t, ResultRow> rows;  // by index
};

// "<version> (git <commit>)" as configured by CMake.
std::string xbar_version();

// Metadata of a study (hashes the model file; float_metric / metric_name are filled by the runner).
ResultsMeta study_meta(const StudySpec& s);
// A finished point's row with its provenance (config from the policy and grid values; the device
// file hash is cached per path for the process lifetime).
ResultRow make_row(const StudySpec& s, const Policy& base, const StudyPoint& p, double metric, double saturation);

// CSV: `# xbar study <fp>`, `# data <what was evaluated>` (absent in older files), column names, rows. read_csv_rows returns index -> values of the
// complete rows (a partial last line is dropped; rows without cost columns read as zero cost); a
// different fingerprint is a FileError.
struct CsvValues {
  double metric = 0, saturation = 0;
  PointCost cost;
};
std::string csv_header(const std::vector<std::string>& grid_keys);
std::string csv_row(const ResultRow& r);
std::map<int64_t, CsvValues> read_csv_rows(const std::string& path, const std::string& fingerprint,
                                                           size_t grid_keys);
void write_csv(const Results& r, const std::string& path);  // atomic, rows sorted by index

void write_h5(const Results& r, const std::string& path);  // atomic (temporary file + rename)
// Throws FileError unless path is absent or a study results file with this fingerprint: a study
// never overwrites a file it did not write.
void require_own_results(const std::string& path, const std::string& fingerprint);
Results read_h5(const std::string& path);                   // FileError naming file and object

}  // namespace xbar
