// The xbar-device schema as one table: every group, dataset and attribute with its type, shape
// rule, unit, requiredness, meaning and where it lives in DeviceTables. The writer, the reader and
// validator (devices/device_file.cpp) and the documentation (`xbar device schema`, the table in
// data/devices/README.md) are all driven by it; rules between several objects (g_min < g_max,
// t_ref > t_read, ...) are checked in the validator and listed in the meaning column.
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "devices/device_file.h"

namespace xbar::device_schema {

enum class Kind { group, dataset, attribute };
// Element type: text (string attribute), integer / real (scalar), vector (1-D dataset),
// matrix (2-D dataset, rows = levels).
enum class Type { none, text, integer, real, vector, matrix };

// Checks of one object's own values (bit set).
enum Rule : unsigned {
  kNoRule = 0,
  kGrid = 1,         // strictly increasing, at least one point
  kNonneg = 2,       // every value >= 0
  kPositive = 4,     // > 0 (scalars)
  kProbability = 8,  // in [0, 1] (scalars)
  kFlag = 16,        // 0 or 1
  kTimeModel = 32,   // one of time_models()
};

struct Matrix {
  std::vector<double> data;  // row-major
  size_t cols = 0;
};
// A value to write or just read; monostate: absent (not written).
using Value = std::variant<std::monostate, std::string, double, int64_t, std::vector<double>, Matrix>;

struct Entry {
  Kind kind;
  const char* group;  // "" for the root
  const char* name;   // group name for Kind::group
  Type type;
  const char* shape;     // documentation: "scalar", "(L)", "(L, N)"
  const char* units;     // a dataset's `units` attribute (checked); for attributes documentation only
  const char* required;  // documentation of requiredness
  const char* meaning;
  // Requiredness when reading (nullptr: optional); for groups, whether it is written.
  bool (*needed)(const DeviceTables&);
  Value (*get)(const DeviceTables&);                // what the writer stores (nullptr: nothing)
  void (*set)(DeviceTables&, const Value&);         // where the reader puts a valid value (nullptr: ignored)
  unsigned rules;
  const char* same_length_as;  // a grid dataset of the same group whose length this one shares
};

const std::vector<Entry>& table();
// A group the validator requires (the root and /conductance).
bool required_group(const Entry& e);
// "/", "/conductance", "/conductance/g_min_uS", "/read_noise@t_ref_s".
std::string object_path(const Entry& e);
// The table as a Markdown table (the layout section of data/devices/README.md).
std::string markdown();

}  // namespace xbar::device_schema
