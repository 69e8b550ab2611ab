#include "engine/config.h"

#include <toml++/toml.h>

#include "engine/config_toml.h"

#include <sstream>

namespace xbar {

const std::vector<Field<RunConfig>>& RunConfig::fields() {
  using R = RunConfig;
  static const std::vector<Field<R>> f = {
      {"seed", "", "seed of every random draw; same seed, same results at any thread count", &R::seed, 0, 2147483647},
      {"t_inference_s", "s", "time between programming and reading (drift and 1/f read noise grow with it)",
       &R::t_inference_s, 0, 1e12},
      {"threads", "", "worker threads (0: OpenMP default, usually all cores)", &R::threads, 0, 1024},
      {"token_interval_s", "s", "time between decode steps; KV-cache cells written earlier are older by this per step",
       &R::token_interval_s, 0, 1e9},
  };
  return f;
}

void XbarConfig::validate() const {
  visit([](const auto& s) { s.validate(); });
}

namespace {

std::vector<std::string> section_names() {
  std::vector<std::string> n;
  XbarConfig{}.visit([&](const auto& s) { n.push_back(s.section()); });
  return n;
}

// Dispatches to the section struct named `section`; throws with a suggestion if none matches.
template <class F>
void with_section(XbarConfig& cfg, const std::string& section, const std::string& key, F&& f) {
  bool found = false;
  cfg.visit([&](auto& s) {
    if (!found && section == s.section()) {
      found = true;
      f(s);
    }
  });
  if (!found) {
    std::string hint = closest_name(section, section_names());
    throw ConfigError(section + (key.empty() ? "" : "." + key), "?",
                      "unknown section" + (hint.empty() ? "" : " (did you mean " + hint + "?)"));
  }
}

// "device.prog_sigma_uS" -> "device.normal.prog_sigma_uS"; other keys unchanged.
std::string current_key(const std::string& dotted) {
  for (const auto& [old_key, new_key] : renamed_device_keys())
    if (dotted == old_key) return new_key;
  return dotted;
}

template <class S>
void add_to_toml(const S& s, toml::table& root) {
  toml::table& t = toml_table_at(root, s.section());
  for (const auto& f : S::fields()) {
    std::visit(
        [&](const auto& m) {
          if constexpr (is_enum_member_v<decltype(m), S>) {
            t.insert(f.key, std::string(m.get(s)));
          } else {
            const auto& v = s.*m;
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, int>) t.insert(f.key, int64_t(v));
            else t.insert(f.key, v);
          }
        },
        f.member);
  }
}

}  // namespace

void set_assignment(XbarConfig& cfg, const std::string& kv) { apply_assignments(cfg, {parse_assignment(kv)}); }

void set_key(XbarConfig& cfg, const std::string& dotted, const std::string& value) {
  set_value(cfg, dotted, FieldValue(value));
}

// The section may be dotted ("device.pcm"); the key is after the last dot.
void set_value(XbarConfig& cfg, const std::string& given, const FieldValue& value) {
  const std::string dotted = current_key(given);
  const auto dot = dotted.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == dotted.size())
    throw ConfigError(given, value_to_string(value), "expected section.key (e.g. adc.bits)");
  const std::string section = dotted.substr(0, dot), key = dotted.substr(dot + 1);
  with_section(cfg, section, key, [&](auto& s) { set_field(s, key, value); });
}

void apply_toml_string(XbarConfig& cfg, const std::string& text, const std::string& source) {
  apply_assignments(cfg, toml_assignments(parse_toml(text, source), source), source);
}

void apply_toml_file(XbarConfig& cfg, const std::string& path) {
  apply_assignments(cfg, toml_assignments(parse_toml_file(path), path), path);
}

std::string to_toml(const XbarConfig& cfg) {
  toml::table root;
  cfg.visit([&](const auto& s) { add_to_toml(s, root); });
  std::ostringstream os;
  os << root << "\n";
  return os.str();
}

std::vector<std::pair<std::string, std::string>> flatten(const XbarConfig& cfg) {
  std::vector<std::pair<std::string, std::string>> out;
  cfg.visit([&](const auto& s) {
    for (const auto& f : std::decay_t<decltype(s)>::fields())
      out.emplace_back(std::string(s.section()) + "." + f.key, field_string(s, f));
  });
  return out;
}

std::string config_help() {
  std::string h;
  XbarConfig{}.visit([&](const auto& s) {
    using S = std::decay_t<decltype(s)>;
    h += "[" + std::string(S::section()) + "]\n" + fields_help<S>();
  });
  return h;
}

}  // namespace xbar
