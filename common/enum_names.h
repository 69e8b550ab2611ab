// Choices as enum classes with one name table each. Beside an enum E, specialize
//   template <> struct EnumNames<E> { static constexpr EnumName<E> table[] = {{E::a, "a"}, ...}; };
// and every text form (TOML, --set, --help, HDF5 attributes, CLI options) comes from that table.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace xbar {

template <class E>
struct EnumName {
  E value;
  const char* name;
};

template <class E>
struct EnumNames;  // specialized beside each enum

// Edit distance based suggestion: "" when nothing is close.
std::string closest_name(const std::string& key, const std::vector<std::string>& names);
// "a, b, c"
std::string join_names(const std::vector<std::string>& names);
// ConfigError "config <what> = "<text>": must be one of: a, b (did you mean b?)".
[[noreturn]] void throw_unknown_name(const std::string& what, const std::string& text,
                                     const std::vector<std::string>& names);

template <class E>
const char* enum_name(E v) {
  for (const auto& e : EnumNames<E>::table)
    if (e.value == v) return e.name;
  return "?";  // unreachable for a value of the table
}

template <class E>
std::string enum_string(E v) {
  return enum_name(v);
}

template <class E>
std::vector<std::string> enum_names() {
  std::vector<std::string> n;
  for (const auto& e : EnumNames<E>::table) n.emplace_back(e.name);
  return n;
}

template <class E>
std::vector<E> enum_values() {
  std::vector<E> v;
  for (const auto& e : EnumNames<E>::table) v.push_back(e.value);
  return v;
}

template <class E>
std::optional<E> enum_from_name(const std::string& name) {
  for (const auto& e : EnumNames<E>::table)
    if (name == e.name) return e.value;
  return std::nullopt;
}

// The value named `text`, or a ConfigError naming `what`, the text and the allowed names.
template <class E>
E parse_enum(const std::string& what, const std::string& text) {
  if (auto v = enum_from_name<E>(text)) return *v;
  throw_unknown_name(what, text, enum_names<E>());
}

}  // namespace xbar
