// Accuracy-versus-precision studies: a grid over any config keys x Monte Carlo repeats (programmed
// chips), evaluated point by point. Results go to OUTPUT.csv (appended and flushed per point: an
// interrupted study resumes where it stopped and loses no finished point) and OUTPUT.h5 (rewritten
// atomically after each point, with the full config of every point).
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace xbar {

struct StudySpec {
  std::string source;   // study file
  std::string model;    // TorchScript file (float model)
  std::string task;     // fashion_mnist | text
  std::string policy;   // policy TOML
  std::string output;   // results path without extension
  int repeats = 3;
  int64_t samples = 0;  // test images / validation tokens (0: all)
  int64_t context = 0;  // text: window length (0: the model's)
  std::vector<std::pair<std::string, std::vector<std::string>>> grid;  // key -> values (as text)
  std::string fingerprint;  // identifies the definition (refuses to resume a different study)
};

struct StudyPoint {
  int64_t index = 0;
  std::vector<std::string> values;  // one per grid key
  int repeat = 0;
};

// Parses and checks a study file (every grid key and value is applied to a config and validated);
// errors name the file and key. Relative paths are taken relative to the current directory.
StudySpec load_study(const std::string& path);
std::vector<StudyPoint> study_points(const StudySpec& s);

struct StudyOptions {
  bool progress = true;
  int64_t stop_after = 0;  // stop after this many new points (0: run to the end); for tests
};

// Runs (or resumes) the study; prints the summary table to stdout. Returns points evaluated now.
int64_t run_study(const StudySpec& s, const StudyOptions& o);

}  // namespace xbar
