// Policy: which configuration each converted operator gets. A default XbarConfig (top-level TOML
// sections), then [[override]] rules applied in order to the operators they match, by layer-name
// glob (module path), operator class and phase. A rule may also switch an operator to digital
// (float or integer bits). Parsed once from TOML; resolve() works on the structs.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "engine/assignment.h"
#include "engine/config.h"
#include "engine/policy_choices.h"

namespace xbar {

struct PolicyRule {
  std::string match = "*";       // fnmatch glob on the layer name (module path)
  std::optional<OpClass> op;     // any when empty; "linear" also matches lm_head
  std::optional<Phase> phase;    // any when empty
  std::optional<OpMode> mode;    // unchanged when empty
  int digital_bits = -1;         // -1 = unchanged; 0 = float; >= 2 integer bits
  Assignments assignments;       // config changes, applied in order
};

struct Policy {
  std::string source = "<default>";  // file (or name) the policy came from, for messages
  XbarConfig defaults;               // every operator's config before the rules
  OpMode default_mode = OpMode::analog;
  int default_digital_bits = 0;
  std::vector<PolicyRule> rules;
};

bool operator==(const PolicyRule& a, const PolicyRule& b);
bool operator==(const Policy& a, const Policy& b);  // source included; configs compared field by field

// The configuration resolved for one operator.
struct ResolvedOp {
  XbarConfig cfg;
  OpMode mode = OpMode::analog;
  int digital_bits = 0;
  std::vector<size_t> rules;  // indices of the rules that matched
};

Policy parse_policy(const std::string& text, const std::string& source);
Policy load_policy(const std::string& path);  // FileError / ConfigError naming file and key
// The policy as TOML that parse_policy reads back to the same policy (engine/policy_write.cpp):
// the full default config, [policy], and each rule with its assignments grouped by section.
std::string policy_to_toml(const Policy& p);
ResolvedOp resolve(const Policy& p, const std::string& name, OpClass op, Phase phase);
// A rule `match` that selects exactly the layer `name`: the glob metacharacters * ? [ ] and the
// escape character \ are escaped.
std::string glob_literal(const std::string& name);

}  // namespace xbar
