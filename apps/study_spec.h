// Study definitions: the [study] table and [grid] of a study file, and the points (grid values x
// repeats) it expands to. Torch-free, so the parser can be fuzzed and reused by every runner.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/policy.h"
#include "ml/task.h"

namespace xbar {

struct StudySpec {
  std::string source;   // study file
  std::string model;    // TorchScript file (float model)
  Task task = Task::fashion_mnist;
  std::string policy;   // policy TOML
  std::string output;   // results path without extension
  int repeats = 3;
  int64_t samples = 0;  // test images / validation tokens (0: all)
  int64_t context = 0;  // text: window length (0: the model's)
  std::string hardware;  // hardware description for the cost columns ("": the built-in default)
  std::string data;      // task fashion_mnist: directory of IDX image data ("": $XBAR_FASHION_MNIST or Debian's)
  std::vector<std::pair<std::string, std::vector<std::string>>> grid;  // key -> values (as text)
  std::string fingerprint;  // identifies the definition (refuses to resume a different study)
  std::string fingerprint_without_data;  // the same before `data` is folded in (use_image_data)
};

struct StudyPoint {
  int64_t index = 0;
  std::vector<std::string> values;  // one per grid key
  int repeat = 0;
};

// Parses and checks a study file (every grid key and value is applied to a config and validated);
// errors name the file and key. Relative paths are taken relative to the current directory.
StudySpec load_study(const std::string& path);
// The same from the file's text (source names it in errors; the policy and model it names are
// still read from disk).
StudySpec parse_study(const std::string& text, const std::string& source);
std::vector<StudyPoint> study_points(const StudySpec& s);
// Evaluates the study on the IDX image data in dir (study key `data`, xbar sweep --data); part of
// the fingerprint.
void use_image_data(StudySpec& s, const std::string& dir);

// A point's grid values as assignments (text, parsed per field type).
Assignments point_assignments(const StudySpec& s, const std::vector<std::string>& values);
// The policy with a point's grid values applied to its default config (override rules still win).
Policy point_policy(const Policy& base, const StudySpec& s, const std::vector<std::string>& values);

// Whole file as bytes; FileError naming the file and `what` if it cannot be read.
std::string read_whole_file(const std::string& path, const std::string& what);

}  // namespace xbar
