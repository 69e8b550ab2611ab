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

namespace {

void add_table(Assignments& out, const std::string& prefix, const toml::table& t, const std::string& source) {
  for (const auto& [kk, kn] : t) {
    const std::string key = prefix + "." + std::string(kk.str());
    if (const toml::table* sub = kn.as_table()) {
      add_table(out, key, *sub, source);
      continue;
    }
    try {
      out.push_back({key, toml_value(kn, key)});
    } catch (const ConfigError& e) {
      throw e.in(source);
    }
  }
}

}  // namespace

Assignments toml_assignments(const toml::table& root, const std::string& source, const std::vector<std::string>& skip) {
  Assignments out;
  for (const auto& [sk, sn] : root) {
    const std::string section(sk.str());
    if (std::find(skip.begin(), skip.end(), section) != skip.end()) continue;
    const toml::table* t = sn.as_table();
    if (!t) throw ConfigError(section, "?", "top-level keys must be inside a [section] table").in(source);
    add_table(out, section, *t, source);
  }
  return out;
}

toml::table& toml_table_at(toml::table& root, const std::string& dotted_section) {
  toml::table* t = &root;
  size_t begin = 0;
  while (true) {
    const size_t dot = dotted_section.find('.', begin);
    const std::string part = dotted_section.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin);
    if (!t->contains(part)) t->insert(part, toml::table{});
    t = t->get_as<toml::table>(part);
    if (!t) throw ConfigError(dotted_section, "?", "'" + part + "' is a value, not a [section] table");
    if (dot == std::string::npos) return *t;
    begin = dot + 1;
  }
}

void insert_assignments(toml::table& t, const Assignments& a) {
  for (const auto& x : a) {
    const auto dot = x.key.rfind('.');
    if (dot == std::string::npos) throw ConfigError(x.key, value_to_string(x.value), "expected section.key");
    toml::table& s = toml_table_at(t, x.key.substr(0, dot));
    const std::string key = x.key.substr(dot + 1);
    std::visit([&](const auto& v) { s.insert_or_assign(key, v); }, x.value);
  }
}

}  // namespace xbar
