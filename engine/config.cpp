#include "engine/config.h"

#include <toml++/toml.h>

#include <algorithm>
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

// Applies one value to "section.key" (the section may be dotted; the key is after the last dot).
void set_dotted(XbarConfig& cfg, const std::string& given, const FieldValue& value) {
  const std::string dotted = current_key(given);
  const auto dot = dotted.rfind('.');
  const std::string section = dotted.substr(0, dot), key = dotted.substr(dot + 1);
  with_section(cfg, section, key, [&](auto& s) { set_field(s, key, value); });
}

bool is_section(const std::string& name) {
  const auto n = section_names();
  return std::find(n.begin(), n.end(), name) != n.end();
}

FieldValue from_toml(const toml::node& n, const std::string& where) {
  if (auto v = n.as_integer()) return v->get();
  if (auto v = n.as_floating_point()) return v->get();
  if (auto v = n.as_boolean()) return v->get();
  if (auto v = n.as_string()) return v->get();
  throw ConfigError(where, "?", "expected a number, boolean or string");
}

// The keys of one [section] table; a nested table that names a section ([device.pcm]) recurses.
void apply_section(XbarConfig& cfg, const std::string& section, const toml::table& t, const std::string& source) {
  for (const auto& [kk, kn] : t) {
    const std::string key = section + "." + std::string(kk.str());
    if (kn.is_table() && is_section(key)) {
      apply_section(cfg, key, *kn.as_table(), source);
      continue;
    }
    try {
      set_dotted(cfg, key, from_toml(kn, key));
    } catch (const ConfigError& e) {
      throw ConfigError(e.field(), "", std::string(e.what()) + " (in " + source + ")");
    }
  }
}

void apply_table(XbarConfig& cfg, const toml::table& root, const std::string& source) {
  for (const auto& [sk, sn] : root) {
    const std::string section(sk.str());
    const toml::table* t = sn.as_table();
    if (!t) throw ConfigError(section, "?", source + ": top-level keys must be inside a [section] table");
    if (!is_section(section)) with_section(cfg, section, "", [](auto&) {});  // throws naming it
    apply_section(cfg, section, *t, source);
  }
}

// The table of a dotted section name inside root, created on the way ("device.pcm").
toml::table& table_at(toml::table& root, const std::string& section) {
  toml::table* t = &root;
  size_t begin = 0;
  while (true) {
    const size_t dot = section.find('.', begin);
    const std::string part = section.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin);
    if (!t->contains(part)) t->insert(part, toml::table{});
    t = t->get_as<toml::table>(part);
    if (dot == std::string::npos) return *t;
    begin = dot + 1;
  }
}

template <class S>
void add_to_toml(const S& s, toml::table& root) {
  toml::table& t = table_at(root, s.section());
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

void set_assignment(XbarConfig& cfg, const std::string& kv) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) throw ConfigError("--set", kv, "expected section.key=value");
  set_key(cfg, kv.substr(0, eq), kv.substr(eq + 1));
}

void set_key(XbarConfig& cfg, const std::string& dotted, const std::string& value) {
  if (dotted.find('.') == std::string::npos)
    throw ConfigError(dotted, value, "expected section.key (e.g. adc.bits)");
  set_dotted(cfg, dotted, FieldValue(value));
}

void apply_toml_string(XbarConfig& cfg, const std::string& text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << source << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description();
    throw ConfigError("toml", source, os.str());
  }
  apply_table(cfg, root, source);
}

void apply_toml_file(XbarConfig& cfg, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << e.description() << " at line " << e.source().begin.line << ", column " << e.source().begin.column;
    throw FileError(path + ": " + os.str());
  }
  apply_table(cfg, root, path);
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
