#include "engine/assignment.h"

namespace xbar {

Assignment parse_assignment(const std::string& kv) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) throw ConfigError("--set", kv, "expected section.key=value");
  return {kv.substr(0, eq), FieldValue(kv.substr(eq + 1))};
}

void apply_assignments(XbarConfig& cfg, const Assignments& a, const std::string& source) {
  for (const auto& x : a) {
    try {
      set_value(cfg, x.key, x.value);
    } catch (const ConfigError& e) {
      throw e.in(source);
    }
  }
}

Assignments config_assignments(const XbarConfig& cfg) {
  Assignments out;
  cfg.visit([&](const auto& s) {
    using S = std::decay_t<decltype(s)>;
    for (const auto& f : S::fields()) {
      const std::string key = std::string(S::section()) + "." + f.key;
      std::visit(
          [&](const auto& m) {
            if constexpr (is_enum_member_v<decltype(m), S>) {
              out.push_back({key, std::string(m.get(s))});  // a choice: its name
            } else {
              const auto& v = s.*m;
              using T = std::decay_t<decltype(v)>;
              if constexpr (std::is_same_v<T, int>) out.push_back({key, int64_t(v)});
              else out.push_back({key, v});
            }
          },
          f.member);
    }
  });
  return out;
}

bool same_config(const XbarConfig& a, const XbarConfig& b) { return config_assignments(a) == config_assignments(b); }

}  // namespace xbar
