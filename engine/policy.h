// Policy: which configuration each converted operator gets. A default XbarConfig (top-level TOML
// sections), then [[override]] rules applied in order to the operators they match, by layer-name
// glob (module path), operator class (linear, conv, lm_head, attn_qk, attn_av) and phase
// (prefill, decode). A rule may also switch an operator to digital (float or integer bits).
#pragma once
#include <string>
#include <vector>

#include "engine/config.h"

namespace xbar {

struct PolicyRule {
  std::string match = "*";  // fnmatch glob on the layer name (module path)
  std::string op;           // operator class ("" = any)
  std::string phase;        // prefill | decode ("" = any)
  std::string mode;         // analog | digital ("" = unchanged)
  int digital_bits = -1;    // -1 = unchanged; 0 = float; >= 2 integer bits
  std::string config_toml;  // config sections of the rule, as TOML text
};

struct Policy {
  std::string source = "<default>";
  std::string default_toml;  // config sections applied to every operator
  std::string default_mode = "analog";
  int default_digital_bits = 0;
  std::vector<PolicyRule> rules;
};

// The configuration resolved for one operator.
struct ResolvedOp {
  XbarConfig cfg;
  std::string toml;  // cfg as TOML (what the layer state stores)
  std::string mode;
  int digital_bits = 0;
  std::vector<size_t> rules;  // indices of the rules that matched
};

extern const std::vector<std::string> kOpClasses;  // linear conv lm_head attn_qk attn_av

Policy parse_policy(const std::string& text, const std::string& source);
Policy load_policy(const std::string& path);  // FileError / ConfigError naming file and key
// The policy as TOML that parse_policy reads back to the same policy (engine/policy_write.cpp).
std::string policy_to_toml(const Policy& p);
ResolvedOp resolve(const Policy& p, const std::string& name, const std::string& op_class, const std::string& phase);

}  // namespace xbar
