#include "engine/policy.h"

#include <fnmatch.h>

#include <fstream>
#include <sstream>
#include <toml++/toml.h>

#include "common/atomic_file.h"

namespace xbar {

const std::vector<std::string> kOpClasses = {"linear", "conv", "lm_head", "attn_qk", "attn_av"};

namespace {

std::string sections_to_toml(const toml::table& t, const std::vector<std::string>& skip) {
  toml::table sections;
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    if (std::find(skip.begin(), skip.end(), key) == skip.end()) sections.insert(key, v);
  }
  std::ostringstream os;
  os << sections;
  return os.str();
}

void check_choice(const std::string& field, const std::string& v, const std::vector<std::string>& allowed) {
  if (v.empty() || std::find(allowed.begin(), allowed.end(), v) != allowed.end()) return;
  std::string all;
  for (const auto& a : allowed) all += (all.empty() ? "" : ", ") + a;
  throw ConfigError(field, "\"" + v + "\"", "must be one of: " + all);
}

std::string get_string(const toml::table& t, const std::string& key, const std::string& where) {
  const toml::node* n = t.get(key);
  if (!n) return "";
  if (!n->is_string()) throw ConfigError(where + "." + key, "?", "expected a string");
  return n->as_string()->get();
}

int get_bits(const toml::table& t, const std::string& where) {
  const toml::node* n = t.get("digital_bits");
  if (!n) return -1;
  if (!n->is_integer()) throw ConfigError(where + ".digital_bits", "?", "expected an integer");
  const int64_t b = n->as_integer()->get();
  if (b != 0 && (b < 2 || b > 24)) throw ConfigError(where + ".digital_bits", std::to_string(b), "must be 0 (float) or 2..24");
  return int(b);
}

const std::vector<std::string> kRuleKeys = {"match", "op", "phase", "mode", "digital_bits"};
const std::vector<std::string> kPolicyKeys = {"mode", "digital_bits"};

}  // namespace

Policy parse_policy(const std::string& text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw FileError(source + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  Policy p;
  p.source = source;
  if (const toml::node* pol = root.get("policy")) {
    if (!pol->is_table()) throw ConfigError("policy", "?", source + ": [policy] must be a table");
    for (const auto& [k, v] : *pol->as_table()) {
      const std::string key(k.str());
      if (std::find(kPolicyKeys.begin(), kPolicyKeys.end(), key) == kPolicyKeys.end()) {
        const std::string hint = closest_name(key, kPolicyKeys);
        throw ConfigError("policy." + key, "?", source + ": unknown key" + (hint.empty() ? "" : " (did you mean policy." + hint + "?)"));
      }
    }
    p.default_mode = get_string(*pol->as_table(), "mode", "policy");
    if (p.default_mode.empty()) p.default_mode = "analog";
    check_choice("policy.mode", p.default_mode, {"analog", "digital"});
    p.default_digital_bits = std::max(0, get_bits(*pol->as_table(), "policy"));
  }
  p.default_toml = sections_to_toml(root, {"policy", "override"});
  XbarConfig base;
  apply_toml_string(base, p.default_toml, source);  // unknown sections/keys fail here, naming them
  base.validate();
  if (const toml::node* ov = root.get("override")) {
    if (!ov->is_array_of_tables()) throw ConfigError("override", "?", source + ": use [[override]] tables");
    size_t i = 0;
    for (const auto& n : *ov->as_array()) {
      const toml::table& t = *n.as_table();
      const std::string where = "override[" + std::to_string(i++) + "]";
      PolicyRule r;
      for (const auto& [k, v] : t) {
        const std::string key(k.str());
        if (v.is_table()) continue;  // a config section
        if (std::find(kRuleKeys.begin(), kRuleKeys.end(), key) == kRuleKeys.end()) {
          const std::string hint = closest_name(key, kRuleKeys);
          throw ConfigError(where + "." + key, "?", source + ": unknown key" + (hint.empty() ? "" : " (did you mean " + hint + "?)"));
        }
      }
      r.match = get_string(t, "match", where);
      if (r.match.empty()) r.match = "*";
      r.op = get_string(t, "op", where);
      check_choice(where + ".op", r.op, kOpClasses);
      r.phase = get_string(t, "phase", where);
      check_choice(where + ".phase", r.phase, {"prefill", "decode"});
      r.mode = get_string(t, "mode", where);
      check_choice(where + ".mode", r.mode, {"analog", "digital"});
      r.digital_bits = get_bits(t, where);
      r.config_toml = sections_to_toml(t, kRuleKeys);
      XbarConfig check = base;
      apply_toml_string(check, r.config_toml, source + " " + where);
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

ResolvedOp resolve(const Policy& p, const std::string& name, const std::string& op_class, const std::string& phase) {
  ResolvedOp r;
  apply_toml_string(r.cfg, p.default_toml, p.source);
  r.mode = p.default_mode;
  r.digital_bits = p.default_digital_bits;
  for (size_t i = 0; i < p.rules.size(); ++i) {
    const PolicyRule& rule = p.rules[i];
    if (fnmatch(rule.match.c_str(), name.c_str(), 0) != 0) continue;
    // lm_head is a kind of linear: a rule for "linear" applies to it too.
    if (!rule.op.empty() && rule.op != op_class && !(rule.op == "linear" && op_class == "lm_head")) continue;
    if (!rule.phase.empty() && rule.phase != phase) continue;
    apply_toml_string(r.cfg, rule.config_toml, p.source);
    if (!rule.mode.empty()) r.mode = rule.mode;
    if (rule.digital_bits >= 0) r.digital_bits = rule.digital_bits;
    r.rules.push_back(i);
  }
  r.cfg.validate();
  r.toml = to_toml(r.cfg);
  return r;
}

}  // namespace xbar
