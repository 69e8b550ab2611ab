#include <sstream>
#include <toml++/toml.h>

#include "common/error.h"
#include "engine/policy.h"

namespace xbar {

namespace {
toml::table parse_sections(const std::string& text, const std::string& where) {
  try {
    return toml::parse(text, where);
  } catch (const toml::parse_error& e) {
    throw ConfigError(where, "?", std::string("cannot re-read config sections: ") + std::string(e.description()));
  }
}
}  // namespace

std::string policy_to_toml(const Policy& p) {
  toml::table root = parse_sections(p.default_toml, p.source);
  toml::table pol;
  pol.insert("mode", p.default_mode);
  pol.insert("digital_bits", p.default_digital_bits);
  root.insert("policy", std::move(pol));
  toml::array rules;
  for (const auto& r : p.rules) {
    toml::table t = parse_sections(r.config_toml, p.source + " override");
    t.insert("match", r.match);
    if (!r.op.empty()) t.insert("op", r.op);
    if (!r.phase.empty()) t.insert("phase", r.phase);
    if (!r.mode.empty()) t.insert("mode", r.mode);
    if (r.digital_bits >= 0) t.insert("digital_bits", r.digital_bits);
    rules.push_back(std::move(t));
  }
  if (!rules.empty()) root.insert("override", std::move(rules));
  std::ostringstream os;
  os << root;
  return os.str() + "\n";
}

}  // namespace xbar
