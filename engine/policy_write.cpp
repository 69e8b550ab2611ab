#include <sstream>

#include "engine/config_toml.h"
#include "engine/policy.h"

namespace xbar {

std::string policy_to_toml(const Policy& p) {
  toml::table root;
  insert_assignments(root, config_assignments(p.defaults));
  toml::table pol;
  pol.insert("mode", enum_string(p.default_mode));
  pol.insert("digital_bits", p.default_digital_bits);
  root.insert("policy", std::move(pol));
  toml::array rules;
  for (const auto& r : p.rules) {
    toml::table t;
    insert_assignments(t, r.assignments);
    t.insert("match", r.match);
    if (r.op) t.insert("op", enum_string(*r.op));
    if (r.phase) t.insert("phase", enum_string(*r.phase));
    if (r.mode) t.insert("mode", enum_string(*r.mode));
    if (r.digital_bits >= 0) t.insert("digital_bits", r.digital_bits);
    rules.push_back(std::move(t));
  }
  if (!rules.empty()) root.insert("override", std::move(rules));
  std::ostringstream os;
  os << root;
  return os.str() + "\n";
}

}  // namespace xbar
