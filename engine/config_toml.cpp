#include "engine/config_toml.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace xbar {

FileError toml_error(const toml::parse_error& e, const std::string& source) {
  std::ostringstream os;
  os << source << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description();
  return FileError(os.str());
}

toml::table parse_toml(const std::string& text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw toml_error(e, source);
  }
}

toml::table parse_toml_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw FileError(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_toml(ss.str(), path);
}

FieldValue toml_value(const toml::node& n, const std::string& where) {
  if (auto v = n.as_integer()) return v->get();
  if (auto v = n.as_floating_point()) return v->get();
  if (auto v = n.as_boolean()) return v->get();
  if (auto v = n.as_string()) return v->get();
  throw ConfigError(where, "?", "expected a number, boolean or string");
}

Assignments toml_assignments(const toml::table& root, const std::string& source, const std::vector<std::string>& skip) {
  Assignments out;
  for (const auto& [sk, sn] : root) {
    const std::string section(sk.str());
    if (std::find(skip.begin(), skip.end(), section) != skip.end()) continue;
    const toml::table* t = sn.as_table();
    if (!t) throw ConfigError(section, "?", source + ": top-level keys must be inside a [section] table");
    for (const auto& [kk, kn] : *t) {
      const std::string key = section + "." + std::string(kk.str());
      try {
        out.push_back({key, toml_value(kn, key)});
      } catch (const ConfigError& e) {
        throw ConfigError(e.field(), "", std::string(e.what()) + " (in " + source + ")");
      }
    }
  }
  return out;
}

void insert_assignments(toml::table& t, const Assignments& a) {
  for (const auto& x : a) {
    const auto dot = x.key.find('.');
    const std::string section = x.key.substr(0, dot), key = x.key.substr(dot + 1);
    toml::table* s = t[section].as_table();
    if (!s) s = t.insert(section, toml::table{}).first->second.as_table();
    std::visit([&](const auto& v) { s->insert_or_assign(key, v); }, x.value);
  }
}

}  // namespace xbar
