#include "engine/policy.h"

#include <fnmatch.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "engine/config_toml.h"

#include "common/atomic_file.h"

namespace xbar {

namespace {

std::string get_string(const toml::table& t, const std::string& key, const std::string& where) {
  const toml::node* n = t.get(key);
  if (!n) return "";
  if (!n->is_string()) throw ConfigError(where + "." + key, "?", "expected a string");
  return n->as_string()->get();
}

template <class E>
std::optional<E> get_choice(const toml::table& t, const std::string& key, const std::string& where) {
  const std::string v = get_string(t, key, where);
  if (v.empty()) return std::nullopt;
  return parse_enum<E>(where + "." + key, v);
}

int get_bits(const toml::table& t, const std::string& where) {
  const toml::node* n = t.get("digital_bits");
  if (!n) return -1;
  if (!n->is_integer()) throw ConfigError(where + ".digital_bits", "?", "expected an integer");
  const int64_t b = n->as_integer()->get();
  if (b != 0 && (b < 2 || b > 24)) throw ConfigError(where + ".digital_bits", std::to_string(b), "must be 0 (float) or 2..24");
  return int(b);
}

// Keys other than config sections: unknown ones are errors with a suggestion.
void check_keys(const toml::table& t, const std::vector<std::string>& allowed, const std::string& where,
                const std::string& hint_prefix, const std::string& source) {
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    if (v.is_table() || std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    const std::string hint = closest_name(key, allowed);
    throw ConfigError(where + key, "?", source + ": unknown key" + (hint.empty() ? "" : " (did you mean " + hint_prefix + hint + "?)"));
  }
}

const std::vector<std::string> kRuleKeys = {"match", "op", "phase", "mode", "digital_bits"};
const std::vector<std::string> kPolicyKeys = {"mode", "digital_bits"};

PolicyRule parse_rule(const toml::table& t, const std::string& where, const std::string& source) {
  check_keys(t, kRuleKeys, where + ".", "", source);
  PolicyRule r;
  r.match = get_string(t, "match", where);
  if (r.match.empty()) r.match = "*";
  r.op = get_choice<OpClass>(t, "op", where);
  r.phase = get_choice<Phase>(t, "phase", where);
  r.mode = get_choice<OpMode>(t, "mode", where);
  r.digital_bits = get_bits(t, where);
  r.assignments = toml_assignments(t, source + " " + where, kRuleKeys);
  return r;
}

}  // namespace

bool operator==(const PolicyRule& a, const PolicyRule& b) {
  return a.match == b.match && a.op == b.op && a.phase == b.phase && a.mode == b.mode &&
         a.digital_bits == b.digital_bits && a.assignments == b.assignments;
}

bool operator==(const Policy& a, const Policy& b) {
  return a.source == b.source && same_config(a.defaults, b.defaults) && a.default_mode == b.default_mode &&
         a.default_digital_bits == b.default_digital_bits && a.rules == b.rules;
}

Policy parse_policy(const std::string& text, const std::string& source) {
  const toml::table root = parse_toml(text, source);
  Policy p;
  p.source = source;
  if (const toml::node* pol = root.get("policy")) {
    if (!pol->is_table()) throw ConfigError("policy", "?", source + ": [policy] must be a table");
    const toml::table& t = *pol->as_table();
    for (const auto& [k, v] : t)  // [policy] has no sub-tables
      if (v.is_table()) throw ConfigError("policy." + std::string(k.str()), "?", source + ": unknown key");
    check_keys(t, kPolicyKeys, "policy.", "policy.", source);
    p.default_mode = get_choice<OpMode>(t, "mode", "policy").value_or(OpMode::analog);
    p.default_digital_bits = std::max(0, get_bits(t, "policy"));
  }
  apply_assignments(p.defaults, toml_assignments(root, source, {"policy", "override"}), source);
  p.defaults.validate();
  if (const toml::node* ov = root.get("override")) {
    if (!ov->is_array_of_tables()) throw ConfigError("override", "?", source + ": use [[override]] tables");
    for (const auto& n : *ov->as_array()) {
      const std::string where = "override[" + std::to_string(p.rules.size()) + "]";
      PolicyRule r = parse_rule(*n.as_table(), where, source);
      XbarConfig check = p.defaults;  // each rule on its own must give a valid config
      apply_assignments(check, r.assignments, source + " " + where);
      check.validate();
      p.rules.push_back(std::move(r));
    }
  }
  return p;
}

Policy load_policy(const std::string& path) {
  require_regular_file(path, "policy");
  std::ifstream f(path);
  if (!f) throw FileError(path + ": cannot open policy file");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_policy(ss.str(), path);
}

std::string glob_literal(const std::string& name) {
  std::string g;
  for (char c : name) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') g += '\\';
    g += c;
  }
  return g;
}

ResolvedOp resolve(const Policy& p, const std::string& name, OpClass op, Phase phase) {
  ResolvedOp r;
  r.cfg = p.defaults;
  r.mode = p.default_mode;
  r.digital_bits = p.default_digital_bits;
  for (size_t i = 0; i < p.rules.size(); ++i) {
    const PolicyRule& rule = p.rules[i];
    if (fnmatch(rule.match.c_str(), name.c_str(), 0) != 0) continue;
    // lm_head is a kind of linear: a rule for linear applies to it too.
    if (rule.op && *rule.op != op && !(*rule.op == OpClass::linear && op == OpClass::lm_head)) continue;
    if (rule.phase && *rule.phase != phase) continue;
    apply_assignments(r.cfg, rule.assignments, p.source);
    if (rule.mode) r.mode = *rule.mode;
    if (rule.digital_bits >= 0) r.digital_bits = rule.digital_bits;
    r.rules.push_back(i);
  }
  r.cfg.validate();
  return r;
}

}  // namespace xbar
