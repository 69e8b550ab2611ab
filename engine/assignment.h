// Configuration changes as data: "section.key" = value pairs. A policy's default sections and
// rules, study grid points and --set overrides are lists of assignments; apply_assignments is the
// one place they change an XbarConfig.
#pragma once
#include <string>
#include <vector>

#include "common/fields.h"
#include "engine/config.h"

namespace xbar {

struct Assignment {
  std::string key;   // "section.key", e.g. "adc.bits"
  FieldValue value;  // typed (from TOML) or text (from the command line), converted per field type
};
inline bool operator==(const Assignment& a, const Assignment& b) { return a.key == b.key && a.value == b.value; }
inline bool operator!=(const Assignment& a, const Assignment& b) { return !(a == b); }
using Assignments = std::vector<Assignment>;

// "section.key=value" (the --set form); the value stays text. ConfigError naming --set without '='.
Assignment parse_assignment(const std::string& key_equals_value);
// Applies each assignment in order (no validation: call cfg.validate() after). ConfigError naming
// the key; `source` (file, rule), when given, is added to the message.
void apply_assignments(XbarConfig& cfg, const Assignments& a, const std::string& source = "");
// Every key of cfg with its current value (int, double, bool or string), in field-table order.
Assignments config_assignments(const XbarConfig& cfg);
// Every field equal (doubles compared exactly).
bool same_config(const XbarConfig& a, const XbarConfig& b);

}  // namespace xbar
