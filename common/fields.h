// One table per config struct (key, unit, description, range, choices) drives validation,
// TOML reading/writing, --set overrides, --help text and HDF5 attributes, without macros.
// A choice is an enum class member; its names come from its EnumNames table (enum_names.h).
#pragma once
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "common/enum_names.h"
#include "common/error.h"

namespace xbar {

// A parsed value from TOML or the command line, before it is checked against a field.
using FieldValue = std::variant<int64_t, double, bool, std::string>;

// A field bound to an enum class member, read and written through the enum's name table.
template <class S>
struct EnumMember {
  std::function<const char*(const S&)> get;
  std::function<bool(S&, const std::string&)> set;  // false: not a name of the table
  std::vector<std::string> names;

  template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
  EnumMember(E S::*m)
      : get([m](const S& s) { return enum_name(s.*m); }),
        set([m](S& s, const std::string& n) {
          const auto v = enum_from_name<E>(n);
          if (v) s.*m = *v;
          return v.has_value();
        }),
        names(enum_names<E>()) {}
};

template <class M, class S>
constexpr bool is_enum_member_v = std::is_same_v<std::decay_t<M>, EnumMember<S>>;

template <class S>
struct Field {
  using Member = std::variant<int S::*, double S::*, bool S::*, std::string S::*, EnumMember<S>>;
  std::string key;   // short name inside the section, e.g. "bits"
  std::string unit;  // "bit", "uS", "ohm", "s", "" (dimensionless) ...
  std::string help;  // one line
  Member member;
  double lo = -std::numeric_limits<double>::infinity();  // inclusive numeric range
  double hi = std::numeric_limits<double>::infinity();
};

std::string format_double(double v);
std::string value_to_string(const FieldValue& v);

namespace detail {
template <class S>
const Field<S>& find_field(const std::string& section, const std::string& key) {
  std::vector<std::string> names;
  for (const auto& f : S::fields()) {
    if (f.key == key) return f;
    names.push_back(f.key);
  }
  std::string hint = closest_name(key, names);
  throw ConfigError(section + "." + key, "?",
                    "unknown key" + (hint.empty() ? "" : " (did you mean " + section + "." + hint + "?)"));
}

template <class T>
std::string scalar_string(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) return v;
  else if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
  else if constexpr (std::is_same_v<T, double>) return format_double(v);
  else return std::to_string(v);
}

template <class T>
void assign_scalar(T& dst, const std::string& name, const FieldValue& value) {
  const std::string shown = value_to_string(value);
  if constexpr (std::is_same_v<T, std::string>) {
    if (auto p = std::get_if<std::string>(&value)) dst = *p;
    else throw ConfigError(name, shown, "expected a string");
  } else if constexpr (std::is_same_v<T, bool>) {
    if (auto p = std::get_if<bool>(&value)) dst = *p;
    else if (auto q = std::get_if<std::string>(&value); q && (*q == "true" || *q == "false"))
      dst = (*q == "true");
    else throw ConfigError(name, shown, "expected true or false");
  } else if constexpr (std::is_same_v<T, double>) {
    if (auto p = std::get_if<double>(&value)) dst = *p;
    else if (auto q = std::get_if<int64_t>(&value)) dst = double(*q);
    else if (auto r = std::get_if<std::string>(&value)) {
      // strtod also reads nan/inf, which check_fields then rejects with the field name.
      char* end = nullptr;
      const double d = std::strtod(r->c_str(), &end);
      if (r->empty() || end != r->c_str() + r->size()) throw ConfigError(name, shown, "expected a number");
      dst = d;
    } else throw ConfigError(name, shown, "expected a number");
  } else {
    int64_t iv;
    if (auto p = std::get_if<int64_t>(&value)) iv = *p;
    else if (auto r = std::get_if<std::string>(&value)) {
      std::istringstream is(*r);
      if (!(is >> iv) || !(is >> std::ws).eof()) throw ConfigError(name, shown, "expected an integer");
    } else if (auto d = std::get_if<double>(&value); d && std::floor(*d) == *d && std::isfinite(*d)) {
      // Range check before the cast: converting a double beyond int64 is undefined.
      if (std::abs(*d) > double(std::numeric_limits<int>::max())) throw ConfigError(name, shown, "out of integer range");
      iv = int64_t(*d);
    } else throw ConfigError(name, shown, "expected an integer");
    if (iv < std::numeric_limits<int>::min() || iv > std::numeric_limits<int>::max())
      throw ConfigError(name, shown, "out of integer range");
    dst = int(iv);
  }
}
}  // namespace detail

// Current value of a field as text (for printing, TOML and HDF5 attributes).
// GCC 12 warns (-Warray-bounds) on the visit's std::string branch for a struct without string
// fields, a branch no field of that struct reaches.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif
template <class S>
std::string field_string(const S& s, const Field<S>& f) {
  return std::visit(
      [&](const auto& m) -> std::string {
        if constexpr (is_enum_member_v<decltype(m), S>) return m.get(s);
        else return detail::scalar_string(s.*m);
      },
      f.member);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// Assigns a value to a field, converting text and ints where that is lossless; numbers are
// range-checked by check_fields, names of an enum field against its table here.
template <class S>
void set_field(S& s, const std::string& key, const FieldValue& value) {
  const Field<S>& f = detail::find_field<S>(S::section(), key);
  const std::string name = std::string(S::section()) + "." + key;
  std::visit(
      [&](const auto& m) {
        if constexpr (is_enum_member_v<decltype(m), S>) {
          const auto* p = std::get_if<std::string>(&value);
          if (!p) throw ConfigError(name, value_to_string(value), "expected one of: " + join_names(m.names));
          if (!m.set(s, *p)) throw_unknown_name(name, *p, m.names);
        } else {
          detail::assign_scalar(s.*m, name, value);
        }
      },
      f.member);
}

// Range and finiteness checks for every numeric field of the table.
template <class S>
void check_fields(const S& s) {
  for (const auto& f : S::fields()) {
    std::visit(
        [&](const auto& m) {
          if constexpr (!is_enum_member_v<decltype(m), S>) {
            using T = std::decay_t<decltype(s.*m)>;
            if constexpr (std::is_same_v<T, int> || std::is_same_v<T, double>) {
              const double d = double(s.*m);
              const std::string name = std::string(S::section()) + "." + f.key;
              if (!std::isfinite(d)) throw ConfigError(name, field_string(s, f), "must be finite");
              if (d < f.lo || d > f.hi)
                throw ConfigError(name, field_string(s, f),
                                  "must be in [" + format_double(f.lo) + ", " + format_double(f.hi) + "]");
            }
          }
        },
        f.member);
  }
}

// "section.key [unit] (default X; range/choices): help" lines for --help and docs.
template <class S>
std::string fields_help() {
  const S defaults{};
  std::ostringstream os;
  for (const auto& f : S::fields()) {
    os << "  " << S::section() << "." << f.key;
    if (!f.unit.empty()) os << " [" << f.unit << "]";
    os << "  " << f.help << " (default " << field_string(defaults, f);
    if (const auto* e = std::get_if<EnumMember<S>>(&f.member)) {
      os << "; one of";
      for (const auto& c : e->names) os << " " << c;
    } else if (std::isfinite(f.lo) || std::isfinite(f.hi)) {
      os << "; range " << format_double(f.lo) << " .. " << format_double(f.hi);
    }
    os << ")\n";
  }
  return os.str();
}

// The first field whose value differs from a default-constructed S, or nullptr.
template <class S>
const Field<S>* first_changed_field(const S& s) {
  const S defaults{};
  for (const auto& f : S::fields())
    if (field_string(s, f) != field_string(defaults, f)) return &f;
  return nullptr;
}

}  // namespace xbar
